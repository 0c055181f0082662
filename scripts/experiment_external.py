"""Rule experiment_external: a file from outside the run an experiment reads (a leaderboard, reference ratings), checked."""
from widespectrum import experiment_steps, pipeline

with pipeline.job(snakemake.log[0]):
    experiment_steps.ingest_external(
        snakemake.config,
        experiment=snakemake.wildcards.experiment,
        name=snakemake.wildcards.name,
        output=snakemake.output[0],
    )
