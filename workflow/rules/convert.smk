# One `hapflow convert` job per matrix.


rule convert:
    input:
        matrix=lambda wildcards: MATRICES[wildcards.stem],
    output:
        f"{RESULTS}/{{stem}}{SUFFIX}",
    log:
        f"{LOGS}/convert/{{stem}}.log",
    wildcard_constraints:
        stem=stems_regex(WHOLE),
    threads: config["threads"]
    resources:
        mem_mb=job_mem_mb(),
        runtime=job_runtime,
    params:
        hapflow=config["hapflow"],
        flags=hapflow_flags(),
        memory_limit=memory_limit(),
    conda:
        "../envs/hapflow.yaml"
    shell:
        'echo "host $(hostname), Slurm job ${{SLURM_JOB_ID:-none}}" > {log:q};'
        " {params.hapflow:q} convert {params.flags} --memory-limit {params.memory_limit:q}"
        " --threads {threads} {input.matrix:q} -o {output:q} 2>> {log:q}"
