# A huge BGZF matrix listed in `scatter`: indexed with tabix, converted one contig per job
# (`tabix -h MATRIX CONTIG | hapflow convert -`), and gathered into one table, byte-identical
# to converting the whole file at once. Work files go under <results>/.scatter/<stem>/,
# on the results' file system, which every node of a cluster sees.


checkpoint scatter_index:
    input:
        matrix=lambda wildcards: MATRICES[wildcards.stem],
    output:
        # tabix writes its index beside the file it indexes, so it indexes a link to the
        # matrix: the matrices' folder may be read-only.
        link=f"{RESULTS}/.scatter/{{stem}}/matrix.gz",
        index=f"{RESULTS}/.scatter/{{stem}}/matrix.gz.tbi",
        contigs=f"{RESULTS}/.scatter/{{stem}}/contigs.txt",
    log:
        f"{LOGS}/scatter/{{stem}}/index.log",
    wildcard_constraints:
        stem=stems_regex(SCATTERED),
    resources:
        mem_mb=small_job_mem_mb(),
        runtime=job_runtime,
    conda:
        "../envs/hapflow.yaml"
    shell:
        """
        echo "host $(hostname), Slurm job ${{SLURM_JOB_ID:-none}}" > {log:q}
        ln -sfn "$(realpath {input.matrix:q})" {output.link:q}
        # tabix reports a line it cannot parse but may still exit 0, having left it out
        # of the index (and out of every query): any error fails the job.
        status=0
        tabix -f -s 1 -b 2 -e 2 {output.link:q} 2>> {log:q} || status=$?
        if grep -q 'offending line was: "CHROM' {log:q}; then
            echo "{input.matrix}: its header line must start with #CHROM for tabix" >> {log:q}
            exit 1
        fi
        if [ "$status" != 0 ] || grep -q '^\[E::' {log:q}; then
            exit 1
        fi
        tabix -l {output.link:q} > {output.contigs:q} 2>> {log:q}
        """


rule scatter_convert:
    input:
        matrix=f"{RESULTS}/.scatter/{{stem}}/matrix.gz",
        index=f"{RESULTS}/.scatter/{{stem}}/matrix.gz.tbi",
        contigs=f"{RESULTS}/.scatter/{{stem}}/contigs.txt",
    output:
        temp(f"{RESULTS}/.scatter/{{stem}}/parts/{{part}}.txt"),
    log:
        f"{LOGS}/scatter/{{stem}}/{{part}}.log",
    wildcard_constraints:
        stem=stems_regex(SCATTERED),
        part=r"\d+",
    threads: config["threads"]
    resources:
        mem_mb=job_mem_mb(),
        # Bounded by the whole matrix's time: one contig's share is not known up front.
        runtime=job_runtime,
    params:
        contig=lambda wildcards, input: contig_name(input.contigs, int(wildcards.part)),
        hapflow=config["hapflow"],
        flags=hapflow_flags(),
        memory_limit=memory_limit(),
    conda:
        "../envs/hapflow.yaml"
    shell:
        'echo "host $(hostname), Slurm job ${{SLURM_JOB_ID:-none}}" > {log:q};'
        " ( tabix -h {input.matrix:q} {params.contig:q}"
        " | {params.hapflow:q} convert {params.flags} --memory-limit {params.memory_limit:q}"
        " --threads {threads} - -o {output:q} ) 2>> {log:q}"


rule scatter_gather:
    input:
        parts=scatter_parts,
    output:
        f"{RESULTS}/{{stem}}{SUFFIX}",
    log:
        f"{LOGS}/scatter/{{stem}}/gather.log",
    wildcard_constraints:
        stem=stems_regex(SCATTERED),
    resources:
        mem_mb=small_job_mem_mb(),
        runtime=job_runtime,
    run:
        gather_tables(input.parts, output[0], log[0])
