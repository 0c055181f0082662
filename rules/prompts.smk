# Captions -> seeded dimension sampling -> rewrite into p_a (E1, docs/experiments.md).


rule prompts:
    input:
        caption_inputs,
    output:
        run(L.PROMPTS),
    log:
        run(L.log("prompts")),
    conda:
        "../envs/models.yaml"
    benchmark:
        run(L.benchmark("prompts"))
    params:
        spec=config["prompts"],
        seed=config["seed"],
    script:
        "../scripts/build_prompts.py"
