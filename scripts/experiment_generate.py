"""Rule experiment_generate: one generator renders every prompt of one experiment."""
from widespectrum import experiment_steps, pipeline

with pipeline.job(snakemake.log[0], gpus=snakemake.resources.get("gpu", 0)):
    experiment_steps.generate(
        snakemake.config,
        experiment=snakemake.wildcards.experiment,
        generator=snakemake.wildcards.generator,
        prompts_file=snakemake.input.prompts,
        output=snakemake.output.manifest,
        image_dir=snakemake.output.images,
        provenance_file=snakemake.output.provenance,
        threads=snakemake.threads,
    )
