# Tables (package code, shared with `widespectrum tables`), one papermill notebook per
# table that draws its figure, the numbers' provenance, and a named target per table.
from widespectrum.numbers import table_params


# A table rule depends on the config keys its table reads and nothing else of the
# config (not run.yaml), so editing one analysis parameter reruns only the tables
# that use it.
TABLE_PARAMS = {name: table_params(TABLE_CATALOG[name], config) for name in TABLES}


def section_title(section, _titles={}):
    """'E3. Reward models': the heading of the section in docs/experiments.md."""
    if not _titles:
        with open(workflow.source_path("../docs/experiments.md")) as handle:
            for line in handle:
                match = re.match(r"## (E\d+)\. (.+)", line)
                if match:
                    _titles[match.group(1)] = f"{match.group(1)}. {match.group(2).strip()}"
    return _titles.get(section, section)


def report_section(wildcards):
    return section_title(TABLE_CATALOG[wildcards.table].section)


def report_rows(wildcards):
    # Called when the report is made, so it reads the finished table.
    from widespectrum.numbers import rows_used

    n = rows_used(run(L.table(wildcards.table, "csv")))
    return {"table": wildcards.table, "rows used (n)": "not stated" if n is None else n}


def table_rule_inputs(wildcards):
    return {key: paths for key, paths in table_inputs(wildcards).items() if key != "spec"}


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
        unpack(table_rule_inputs),
    output:
        csv=report(
            run(L.table("{table}", "csv")),
            category=report_section,
            subcategory="{table}",
            labels=report_rows,
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
        run_dir=RUN,
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
            category=report_section,
            subcategory="{table}",
            labels=report_rows,
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
        results_dir=os.path.abspath(RUN),
        python=PYTHON,
        caption=lambda wildcards: TABLE_CATALOG[wildcards.table].caption,
    shell:
        "{params.python} -m papermill -k python3 --cwd notebooks {input.notebook} {output.notebook}"
        " -p results_dir {params.results_dir} -p name {wildcards.table} > {log} 2>&1"


rule reproduction_report:
    input:
        tables=expand(run(L.table("{table}", "csv")), table=config["analysis"]["tables"]),
        published="config/published_values.yaml",
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
        run_dir=RUN,
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
