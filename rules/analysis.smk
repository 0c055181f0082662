# Tables (package code, shared with `widespectrum tables`), one papermill notebook per
# table that draws its figure, the numbers' provenance, and a named target per table.
from widespectrum.numbers import rows_label, section_title, table_params


# A table rule depends on the config keys its table reads and nothing else of the
# config (not run.yaml), so editing one analysis parameter reruns only the tables
# that use it.
TABLE_PARAMS = {name: table_params(TABLE_CATALOG[name], config) for name in TABLES}


rule run_spec:
    output:
        run(L.RUN_SPEC),
    log:
        run(L.log("run_spec")),
    conda:
        "../envs/analysis.yaml"
    benchmark:
        run(L.benchmark("run_spec"))
    params:
        # The resolved config is a param so that a config change rewrites the spec.
        config=config,
    script:
        "../scripts/run_spec.py"


rule table:
    input:
        unpack(lambda wildcards: {k: v for k, v in table_inputs(wildcards).items() if k != "spec"}),
    output:
        csv=report(
            run(L.table("{table}", "csv")),
            category=lambda wildcards: section_title(TABLE_CATALOG[wildcards.table].section),
            subcategory="{table}",
            # called when the report is made, so it reads the finished table
            labels=lambda wildcards: rows_label(wildcards.table, run(L.table(wildcards.table, "csv")),
                                                TABLE_CATALOG[wildcards.table]),
            caption="../report/table.rst",
        ),
        tex=run(L.table("{table}", "tex")),
        record=run(L.table("{table}", "json")),
    log:
        run(L.log("table/{table}")),
    conda:
        "../envs/analysis.yaml"
    benchmark:
        run(L.benchmark("table/{table}"))
    params:
        run_dir=lambda wildcards, output: os.path.dirname(os.path.dirname(output.csv)),
        caption=lambda wildcards: TABLE_CATALOG[wildcards.table].caption,
        analysis=lambda wildcards: TABLE_PARAMS[wildcards.table],
    script:
        "../scripts/table.py"


rule notebook:
    input:
        table=run(L.table("{table}", "csv")),
        record=run(L.table("{table}", "json")),
        notebook=lambda wildcards: TABLE_CATALOG[wildcards.table].notebook_for(wildcards.table),
    output:
        notebook=run(L.notebook("{table}")),
        pdf=report(
            run(L.figure("{table}", "pdf")),
            category=lambda wildcards: section_title(TABLE_CATALOG[wildcards.table].section),
            subcategory="{table}",
            # called when the report is made, so it reads the finished table
            labels=lambda wildcards: rows_label(wildcards.table, run(L.table(wildcards.table, "csv")),
                                                TABLE_CATALOG[wildcards.table]),
            caption="../report/figure.rst",
        ),
        png=run(L.figure("{table}", "png")),
    log:
        run(L.log("notebook/{table}")),
    conda:
        "../envs/analysis.yaml"
    benchmark:
        run(L.benchmark("notebook/{table}"))
    params:
        results_dir=lambda wildcards, output: os.path.abspath(os.path.dirname(os.path.dirname(output.notebook))),
        # papermill rewrites its output after every cell: it writes here, renamed onto the
        # declared notebook only once every cell has run, so no partial notebook sits there
        partial=lambda wildcards, output: os.path.join(os.path.dirname(output.notebook),
                                                       f".{wildcards.table}.partial.ipynb"),
        python=PYTHON,
        caption=lambda wildcards: TABLE_CATALOG[wildcards.table].caption,
    shell:
        "{params.python} -m papermill -k python3 --cwd notebooks {input.notebook} {params.partial}"
        " -p results_dir {params.results_dir} -p name {wildcards.table} > {log} 2>&1"
        " || {{ rm -f {params.partial}; exit 1; }}; mv -f {params.partial} {output.notebook}"


rule reproduction_report:
    input:
        # the run's own tables and their records (notes); a table the run cannot make
        # (tables.catalog.unavailable_tables) is not in TABLES, and the report says why
        tables=expand(run(L.table("{table}", "csv")), table=TABLES),
        records=expand(run(L.table("{table}", "json")), table=TABLES),
        published="config/published_values.yaml",
        # not read: rewritten when the config changes, it reruns the report
        spec=run(L.RUN_SPEC),
    output:
        markdown=report(run(L.report("md")), category="Reproduction report"),
        csv=run(L.report("csv")),
    log:
        run(L.log("reproduction_report")),
    conda:
        "../envs/analysis.yaml"
    benchmark:
        run(L.benchmark("reproduction_report"))
    script:
        "../scripts/reproduction_report.py"


rule numbers:
    input:
        tables=expand(run(L.table("{table}", "{suffix}")), table=TABLES, suffix=("csv", "json")),
    output:
        json=run(L.NUMBERS_JSON),
        tex=run(L.NUMBERS_TEX),
    log:
        run(L.log("numbers")),
    conda:
        "../envs/analysis.yaml"
    benchmark:
        run(L.benchmark("numbers"))
    params:
        run_dir=lambda wildcards, output: os.path.dirname(output.json),
        tables=TABLES,
    script:
        "../scripts/numbers.py"


# `snakemake --cores 1 tab_emotion`: one table and its figure, by name.
for _table in TABLES:

    rule:
        name:
            _table
        input:
            run(L.table(_table, "csv")),
            run(L.figure(_table, "pdf")),
