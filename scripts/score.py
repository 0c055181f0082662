"""Rule score: one reward model over one generator's pairs."""
from widespectrum import pipeline

with pipeline.job(snakemake.log[0], gpus=snakemake.resources.get("gpu", 0)):
    pipeline.score(
        snakemake.config,
        reward=snakemake.wildcards.reward,
        manifest_file=snakemake.input.manifest,
        prompts_file=snakemake.input.prompts,
        output=snakemake.output.scores,
        provenance_file=snakemake.output.provenance,
        threads=snakemake.threads,
    )
