"""Rule generate: one generator over one chunk of prompt pairs."""
from widespectrum import pipeline

with pipeline.job(snakemake.log[0], gpus=snakemake.resources.get("gpu", 0)):
    pipeline.generate_chunk(
        snakemake.config,
        generator=snakemake.wildcards.generator,
        chunk=int(snakemake.wildcards.chunk),
        prompts_file=snakemake.input.prompts,
        image_dir=snakemake.output.images,
        provenance_file=snakemake.output.provenance,
        threads=snakemake.threads,
    )
