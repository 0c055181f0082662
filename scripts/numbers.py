"""Rule numbers: numbers.json and numbers.tex from the run's tables, their records and provenance."""
from widespectrum import pipeline
from widespectrum.numbers import write_numbers

with pipeline.job(snakemake.log[0]):
    write_numbers(snakemake.params.run_dir, snakemake.config, snakemake.params.tables,
                  json_path=snakemake.output.json, tex_path=snakemake.output.tex)
