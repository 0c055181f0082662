"""Rule reproduction_report: every published number beside this run's."""
from widespectrum import pipeline
from widespectrum.report import write_report

with pipeline.job(snakemake.log[0]):
    write_report(snakemake.config, snakemake.input.published, markdown=snakemake.output.markdown,
                 csv=snakemake.output.csv, records=list(snakemake.input.records))
