# source: released. The authors' released benchmark becomes this run's prompts, scores,
# labels, ratings (and, with released.images, manifests of its images), with an audit.


rule ingest_released:
    output:
        released_targets(),
    log:
        run(L.log("ingest_released")),
    conda:
        "../envs/models.yaml"
    benchmark:
        run(L.benchmark("ingest_released"))
    params:
        released=config["released"],
    threads: 2
    script:
        "../scripts/ingest_released.py"
