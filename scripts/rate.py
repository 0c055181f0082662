"""Rule rate: per-dimension ratings of one generator's images."""
from widespectrum import pipeline

with pipeline.job(snakemake.log[0], gpus=snakemake.resources.get("gpu", 0)):
    pipeline.rate(
        snakemake.config,
        rater_name=snakemake.wildcards.rater,
        manifest_file=snakemake.input.manifest,
        output=snakemake.output.ratings,
        provenance_file=snakemake.output.provenance,
        threads=snakemake.threads,
    )
