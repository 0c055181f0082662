"""Rule img2img: re-render the source generator's low-scoring I_a under p_a."""
from widespectrum import pipeline

with pipeline.job(snakemake.log[0], gpus=snakemake.resources.get("gpu", 0)):
    pipeline.generate_img2img(
        snakemake.config,
        generator=snakemake.wildcards.generator,
        source_manifest=snakemake.input.manifest,
        source_scores=snakemake.input.scores,
        prompts_file=snakemake.input.prompts,
        image_dir=snakemake.output.images,
        provenance_file=snakemake.output.provenance,
        threads=snakemake.threads,
    )
