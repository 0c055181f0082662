"""Rule experiment_score: one reward scores one experiment's pictures."""
from widespectrum import experiment_steps, pipeline

with pipeline.job(snakemake.log[0], gpus=snakemake.resources.get("gpu", 0)):
    experiment_steps.score(
        snakemake.config,
        experiment=snakemake.wildcards.experiment,
        reward=snakemake.wildcards.reward,
        output=snakemake.output.scores,
        provenance_file=snakemake.output.provenance,
        items_file=snakemake.input.get("item_table"),
        prompts_file=snakemake.input.get("prompts"),
        manifest_files=list(snakemake.input.manifests),
        threads=snakemake.threads,
    )
