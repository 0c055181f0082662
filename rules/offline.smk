# Tiny models of the real classes with random weights, built into the run's hub cache
# so the demo loads them through the same from_pretrained calls as the real checkpoints.


rule offline_models:
    output:
        run(L.OFFLINE_MODELS),
    log:
        run(L.log("offline_models")),
    conda:
        "../envs/models.yaml"
    benchmark:
        run(L.benchmark("offline_models"))
    threads: 1
    script:
        "../scripts/build_offline_models.py"
