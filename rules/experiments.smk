# The side experiments under results/<run>/experiments/<experiment>/, generic over the
# experiments' declarations (rules/experiment_inputs.smk): items (stand-ins or a released
# set) -> prompts -> one render job per (experiment, generator) -> one score job per
# (experiment, reward); files from outside the run are checked and copied in. The table
# rule reads the scores; experiments without files (fig_slopes) need no stage of their own.


rule experiment_items:
    output:
        item_table=run(L.experiment_items("{experiment}")),
        images=directory(run(L.experiment_item_images("{experiment}"))),
        provenance=run(L.provenance(L.experiment_step("{experiment}", "items"))),
    log:
        run(L.log(L.experiment_step("{experiment}", "items"))),
    conda:
        "../envs/models.yaml"
    benchmark:
        run(L.benchmark(L.experiment_step("{experiment}", "items")))
    params:
        spec=experiment_item_spec,
    wildcard_constraints:
        experiment=one_of(EXPERIMENT_ITEM_SETS),
    threads: 1
    script:
        "../scripts/experiment_items.py"


rule experiment_released_scores:
    input:
        item_table=run(L.experiment_items("{experiment}")),
    output:
        run(L.experiment_released_scores("{experiment}")),
    log:
        run(L.log(L.experiment_step("{experiment}", "released_scores"))),
    conda:
        "../envs/models.yaml"
    benchmark:
        run(L.benchmark(L.experiment_step("{experiment}", "released_scores")))
    params:
        released_scores=lambda wildcards: EXPERIMENTS[wildcards.experiment].spec(config).get("released_scores"),
    wildcard_constraints:
        experiment=one_of(EXPERIMENT_RELEASED_SCORES),
    threads: 1
    script:
        "../scripts/experiment_released_scores.py"


rule experiment_prompts:
    input:
        experiment_prompt_inputs,
    output:
        run(L.experiment_prompts("{experiment}")),
    log:
        run(L.log(L.experiment_step("{experiment}", "prompts"))),
    conda:
        "../envs/models.yaml"
    benchmark:
        run(L.benchmark(L.experiment_step("{experiment}", "prompts")))
    params:
        spec=experiment_prompt_spec,
    wildcard_constraints:
        experiment=one_of(EXPERIMENT_GENERATED),
    threads: 1
    script:
        "../scripts/experiment_prompts.py"


# A released set's prompts and pictures (E10 with source: released), filed as prompts and
# per-generator manifests, so the score jobs read them as they read renders. Its outputs
# depend on the experiment's generators: one rule per such experiment.
for _name in EXPERIMENT_RELEASED_RENDERS:

    rule:
        name:
            f"experiment_released_renders_{_name}"
        output:
            prompts=run(L.experiment_prompts(_name)),
            manifests=[run(L.experiment_manifest(_name, g)) for g in EXPERIMENT_RENDERS[_name]],
            provenance=run(L.provenance(L.experiment_step(_name, "released_renders"))),
        log:
            run(L.log(L.experiment_step(_name, "released_renders"))),
        conda:
            "../envs/models.yaml"
        benchmark:
            run(L.benchmark(L.experiment_step(_name, "released_renders")))
        params:
            experiment=_name,
            spec={key: ACTIVE[_name].spec(config).get(key) for key in ACTIVE[_name].released_render_keys},
            generators=EXPERIMENT_RENDERS[_name],
        threads: 1
        script:
            "../scripts/experiment_released_renders.py"


rule experiment_generate:
    input:
        prompts=run(L.experiment_prompts("{experiment}")),
        models=offline_models_input("generators", "generator"),
    output:
        # the renders' folder, declared so that Snakemake tracks them and removes them with a
        # failed job; it holds the manifest too, which only this job may (no other output lies in it)
        images=directory(run(image_folder(L.experiment_manifest("{experiment}", "{generator}")))),
        manifest=run(L.experiment_manifest("{experiment}", "{generator}")),
        provenance=run(L.provenance(L.experiment_step("{experiment}", "generate-{generator}"))),
    log:
        run(L.log(L.experiment_step("{experiment}", "generate-{generator}"))),
    conda:
        "../envs/models.yaml"
    benchmark:
        run(L.benchmark(L.experiment_step("{experiment}", "generate-{generator}")))
    params:
        settings=lambda wildcards: entry("generators", wildcards.generator),
        seed=config["seed"],
    wildcard_constraints:
        experiment=one_of(EXPERIMENT_GENERATED),
        generator=one_of(EXPERIMENT_GENERATORS),
    threads: experiment_generate_threads
    resources:
        gpu=gpus("generators", "generator"),
    script:
        "../scripts/experiment_generate.py"


rule experiment_score:
    input:
        unpack(experiment_score_inputs),
    output:
        scores=run(L.experiment_scores("{experiment}", "{reward}")),
        provenance=run(L.provenance(L.experiment_step("{experiment}", "score-{reward}"))),
    log:
        run(L.log(L.experiment_step("{experiment}", "score-{reward}"))),
    conda:
        "../envs/models.yaml"
    benchmark:
        run(L.benchmark(L.experiment_step("{experiment}", "score-{reward}")))
    params:
        spec=experiment_score_spec,
    wildcard_constraints:
        experiment=one_of(list(EXPERIMENT_SCORED)),
        reward=one_of(EXPERIMENT_REWARDS),
    threads: experiment_score_threads
    resources:
        gpu=experiment_score_gpu,
    script:
        "../scripts/experiment_score.py"


rule experiment_external:
    input:
        experiment_external_input,
    output:
        run(L.experiment_file("{experiment}", "{name}")),
    log:
        run(L.log(L.experiment_step("{experiment}", "{name}"))),
    conda:
        "../envs/analysis.yaml"
    benchmark:
        run(L.benchmark(L.experiment_step("{experiment}", "{name}")))
    wildcard_constraints:
        experiment=one_of(list(EXPERIMENT_EXTERNAL)),
        name=one_of(EXPERIMENT_EXTERNAL_NAMES),
    threads: 1
    script:
        "../scripts/experiment_external.py"
