# Tables (package code, shared with `widespectrum tables`) and one papermill notebook per
# table that draws its figure.
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
        unpack(table_inputs),
    output:
        csv=report(run(L.table("{table}", "csv")), category="Tables", caption="../report/table.rst"),
        tex=run(L.table("{table}", "tex")),
        record=run(L.table("{table}", "json")),
    log:
        run(L.log("table/{table}")),
    conda:
        "../envs/analysis.yaml"
    benchmark:
        run(L.benchmark("table/{table}"))
    script:
        "../scripts/table.py"


rule notebook:
    input:
        table=run(L.table("{table}", "csv")),
        record=run(L.table("{table}", "json")),
        notebook=lambda wildcards: TABLE_CATALOG[wildcards.table].notebook_for(wildcards.table),
    output:
        notebook=run(L.notebook("{table}")),
        pdf=report(run(L.figure("{table}", "pdf")), category="Figures", caption="../report/figure.rst"),
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
    shell:
        "{params.python} -m papermill -k python3 --cwd notebooks {input.notebook} {output.notebook}"
        " -p results_dir {params.results_dir} -p name {wildcards.table} > {log} 2>&1"


rule reproduction_report:
    input:
        # a table the run cannot make (tables.catalog.unavailable_tables) is not waited for; the report says why
        tables=expand(run(L.table("{table}", "csv")), table=[t for t in config["analysis"]["tables"] if t in TABLES]),
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
