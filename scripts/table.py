"""Rule table: compute one table of the paper from the files the rule declares."""
from widespectrum import pipeline
from widespectrum.tables.build import build_table

with pipeline.job(snakemake.log[0]):
    files = {key: list(snakemake.input[key]) for key in snakemake.input.keys()}
    build_table(snakemake.wildcards.table, snakemake.params.run_dir, config=snakemake.config, files=files,
                outputs={kind: snakemake.output[kind] for kind in ("csv", "tex", "record")})
