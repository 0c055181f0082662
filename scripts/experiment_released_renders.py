"""Rule experiment_released_renders_<experiment>: a released set's prompts and pictures, filed as renders."""
from widespectrum import experiment_steps, pipeline

with pipeline.job(snakemake.log[0]):
    experiment_steps.released_renders(
        snakemake.config,
        experiment=snakemake.params.experiment,
        prompts_output=snakemake.output.prompts,
        manifest_outputs=dict(zip(snakemake.params.generators, snakemake.output.manifests)),
        provenance_file=snakemake.output.provenance,
    )
