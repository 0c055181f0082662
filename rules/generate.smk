# One job per (generator, chunk of prompt pairs): model start-up costs seconds, so jobs
# are coarse. Each chunk folder holds its PNGs and a manifest with their sha256.


rule generate:
    input:
        prompts=run(L.PROMPTS),
        models=offline_models_input("generators", "generator"),
    output:
        images=directory(run(L.chunk_dir("{generator}", "{chunk}"))),
        provenance=run(L.provenance("generate/{generator}-{chunk}")),
    log:
        run(L.log("generate/{generator}-{chunk}")),
    conda:
        "../envs/models.yaml"
    benchmark:
        run(L.benchmark("generate/{generator}-{chunk}"))
    params:
        settings=lambda wildcards: entry("generators", wildcards.generator),
    threads: 1
    resources:
        gpu=gpus("generators", "generator"),
    script:
        "../scripts/generate.py"


rule merge_manifest:
    input:
        [run(L.chunk_dir("{generator}", chunk)) for chunk in range(N_CHUNKS)],
    output:
        run(L.manifest("{generator}")),
    log:
        run(L.log("merge_manifest/{generator}")),
    conda:
        "../envs/models.yaml"
    benchmark:
        run(L.benchmark("merge_manifest/{generator}"))
    wildcard_constraints:
        generator=one_of(computed(GENERATORS, IMG2IMG)),
    script:
        "../scripts/merge_manifest.py"
