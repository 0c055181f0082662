# E9, docs/experiments.md: re-render a generator's low-scoring I_a images with img2img generators.


rule img2img:
    input:
        manifest=run(L.manifest(config["img2img"]["source"])),
        scores=run(L.scores(config["roles"]["hpsv3"], config["img2img"]["source"])),
        prompts=run(L.PROMPTS),
        models=offline_models_input("generators", "generator"),
    output:
        # the re-renders' folder, declared so that Snakemake tracks them and removes them with a
        # failed job; it holds the manifest too, which only this job may (no other output lies in it)
        images=directory(run(image_folder(L.manifest("{generator}")))),
        manifest=run(L.manifest("{generator}")),
        provenance=run(L.provenance("generate/{generator}-img2img")),
    log:
        run(L.log("img2img/{generator}")),
    conda:
        "../envs/models.yaml"
    benchmark:
        run(L.benchmark("img2img/{generator}"))
    params:
        entry=lambda wildcards: entry("generators", wildcards.generator),
        spec=config["img2img"],
    wildcard_constraints:
        generator=one_of(IMG2IMG),
    threads: 1
    resources:
        gpu=gpus("generators", "generator"),
    script:
        "../scripts/img2img.py"
