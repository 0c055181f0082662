"""Rule experiment_released_scores: the scores a released set carries for an experiment's items."""
from widespectrum import experiment_steps, pipeline

with pipeline.job(snakemake.log[0]):
    experiment_steps.released_scores(
        snakemake.config,
        experiment=snakemake.wildcards.experiment,
        items_file=snakemake.input.item_table,
        output=snakemake.output[0],
    )
