# Pairwise labels y (which image matches p_a) and per-dimension ratings J(I, d).


rule judge:
    input:
        manifest=manifest,
        prompts=run(L.PROMPTS),
        models=offline_models_input("judges", "judge"),
    output:
        labels=run(L.labels("{judge}", "{generator}")),
        provenance=run(L.provenance("judge/{judge}-{generator}")),
    log:
        run(L.log("judge/{judge}-{generator}")),
    conda:
        "../envs/models.yaml"
    benchmark:
        run(L.benchmark("judge/{judge}-{generator}"))
    params:
        entry=lambda wildcards: entry("judges", wildcards.judge),
    wildcard_constraints:
        judge=one_of(computed(PAIRWISE, RELEASED["pairwise"])),
    threads: 1
    resources:
        gpu=gpus("judges", "judge"),
    script:
        "../scripts/judge.py"


rule rate:
    input:
        manifest=manifest,
        models=offline_models_input("judges", "rater"),
    output:
        ratings=run(L.ratings("{rater}", "{generator}")),
        provenance=run(L.provenance("rate/{rater}-{generator}")),
    log:
        run(L.log("rate/{rater}-{generator}")),
    conda:
        "../envs/models.yaml"
    benchmark:
        run(L.benchmark("rate/{rater}-{generator}"))
    params:
        entry=lambda wildcards: entry("judges", wildcards.rater),
    wildcard_constraints:
        rater=one_of(computed(RATERS, RELEASED["rater"])),
    threads: 1
    resources:
        gpu=gpus("judges", "rater"),
    script:
        "../scripts/rate.py"
