"""Rule judge: pairwise labels for one generator's pairs."""
from widespectrum import pipeline

with pipeline.job(snakemake.log[0], gpus=snakemake.resources.get("gpu", 0)):
    pipeline.judge(
        snakemake.config,
        judge_name=snakemake.wildcards.judge,
        manifest_file=snakemake.input.manifest,
        prompts_file=snakemake.input.prompts,
        output=snakemake.output.labels,
        provenance_file=snakemake.output.provenance,
        threads=snakemake.threads,
    )
