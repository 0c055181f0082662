# One job per (reward model, generator): all four r(I, p) of every pair.


rule score:
    input:
        manifest=manifest,
        prompts=run(L.PROMPTS),
        models=offline_models_input("rewards", "reward"),
    output:
        scores=run(L.scores("{reward}", "{generator}")),
        provenance=run(L.provenance("score/{reward}-{generator}")),
    log:
        run(L.log("score/{reward}-{generator}")),
    conda:
        "../envs/models.yaml"
    benchmark:
        run(L.benchmark("score/{reward}-{generator}"))
    params:
        entry=lambda wildcards: entry("rewards", wildcards.reward),
    wildcard_constraints:
        reward=one_of(computed(config["rewards"], RELEASED["rewards"])),
    threads: 1
    resources:
        gpu=gpus("rewards", "reward"),
    script:
        "../scripts/score.py"
