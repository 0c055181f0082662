"""Rule experiment_prompts: the prompts an experiment's generators render."""
from widespectrum import experiment_steps, pipeline

with pipeline.job(snakemake.log[0]):
    experiment_steps.build_prompts(
        snakemake.config,
        experiment=snakemake.wildcards.experiment,
        output=snakemake.output[0],
        inputs=list(snakemake.input),
    )
