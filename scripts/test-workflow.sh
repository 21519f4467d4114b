#!/usr/bin/env bash
# Runs the Snakemake workflow (workflow/) with the real engines and checks what it wrote:
#
#   scripts/test-workflow.sh local   # snakemake --cores 2, as the README shows
#   scripts/test-workflow.sh slurm   # the same folder through a real one-node Slurm
#                                    # (scripts/slurm-local.sh; root, Debian) and the
#                                    # shipped profile workflow/profiles/slurm
#
# A folder of generated matrices (plain, gzip, BGZF, and a BGZF matrix with a `#CHROM`
# header converted one contig per job) plus files the workflow must skip; every output
# must be byte-identical to `hapflow convert` of the same input by a second hapflow build
# (REFERENCE), and nothing else may appear. Under Slurm, every job's log must name the
# Slurm job it ran in, and Slurm must list each of those jobs as COMPLETED with the CPUs,
# memory and time limit the rules asked for.
#
# Environment:
#   HAPFLOW    the hapflow the workflow runs (default: `hapflow` on PATH)
#   REFERENCE  the hapflow whose `convert` output is expected (default: target/release/hapflow)
#   VENV       where Snakemake is (installed with pip when missing; default /tmp/hapflow-snakemake)
#   WORK       scratch folder (default: a new one under /tmp; removed at the end when it was new)
# Each engine run is under `timeout -k`: Snakemake's Slurm executor can wait forever.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
case "$mode" in local | slurm) ;; *)
    echo "usage: $0 local|slurm" >&2
    exit 2
    ;;
esac
started=$(date +%s)
HAPFLOW=${HAPFLOW:-$(command -v hapflow || true)}
REFERENCE=${REFERENCE:-target/release/hapflow}
VENV=${VENV:-/tmp/hapflow-snakemake}
[ -x "$HAPFLOW" ] || { echo "test-workflow: HAPFLOW=$HAPFLOW is not an executable" >&2; exit 2; }
[ -x "$REFERENCE" ] || { echo "test-workflow: REFERENCE=$REFERENCE is not an executable" >&2; exit 2; }
HAPFLOW=$(realpath "$HAPFLOW")
REFERENCE=$(realpath "$REFERENCE")
if [ -z "${WORK:-}" ]; then
    WORK=$(mktemp -d /tmp/hapflow-workflow.XXXXXX)
    cleanup_work=1
fi
cleanup() {
    [ "$mode" = slurm ] && STATE=$WORK scripts/slurm-local.sh down
    [ -n "${cleanup_work:-}" ] && rm -rf "$WORK"
    true
}
trap cleanup EXIT

# The engines: Snakemake 9 and the Slurm executor plugin from PyPI, tabix from Debian.
if [ ! -x "$VENV/bin/snakemake" ] || ! "$VENV/bin/python" -c 'import snakemake_executor_plugin_slurm' 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check \
        snakemake==9.27.1 snakemake-executor-plugin-slurm==2.8.0
fi
if ! command -v tabix >/dev/null || ! command -v bgzip >/dev/null; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q tabix
fi
# sbatch exports the environment: jobs find the venv's Snakemake, which runs each job.
export PATH="$VENV/bin:$PATH"

# The matrices.
m=$WORK/matrices
mkdir -p "$m"
"$REFERENCE" generate --size 3MiB --seed 11 -o "$m/plain.txt"
"$REFERENCE" generate --size 2MiB --seed 12 --contigs 3 --interleave 500 --gzip -o "$m/gzip.tsv.gz"
"$REFERENCE" generate --size 2MiB --seed 13 --odd-alleles --bgzip -o "$m/bgzf.txt.bgz"
# tabix takes a header line for a record unless it starts with its comment character.
"$REFERENCE" generate --size 4MiB --seed 14 --contigs 3 --header-line | sed '1s/^/#/' | bgzip >"$m/big.txt.gz"
printf 'partial' >"$m/late.txt.part"
printf 'hidden' >"$m/.hidden.txt"
expected="bgzf big gzip plain"

results=$WORK/results
logs=$WORK/logs
common=(--config "matrices=$m" "results=$results" "logs=$logs" "hapflow=$HAPFLOW"
    "scatter=[big.txt.gz]" memory_limit=64MiB)

timeout -k 10 60 snakemake --lint "${common[@]}"

if [ "$mode" = local ]; then
    # The plumbing of the settings, in a dry run: hapflow's limit read from a hapflow TOML
    # (256MiB: 269 MB + the 300 MB margin), format and compression passed on as flags and
    # naming the outputs; a scattered matrix refused in a format that cannot be gathered.
    timeout -k 10 120 snakemake -n -p --cores 2 --config "matrices=$m" "results=$WORK/dry" \
        hapflow_config=config/hapflow.toml format=vcf compress=bgzf compress_level=6 >"$WORK/dry.log" 2>&1 ||
        { cat "$WORK/dry.log"; exit 1; }
    grep -q "hapflow convert --config config/hapflow.toml --format vcf --compress bgzf --compress-level 6 --memory-limit 256MiB --threads 2 $m/plain.txt -o $WORK/dry/plain.vcf.gz" "$WORK/dry.log" ||
        { echo "test-workflow: the dry run's command lines:" >&2; grep 'hapflow convert' "$WORK/dry.log" >&2; exit 1; }
    [ "$(grep -c 'mem_mb=569,' "$WORK/dry.log")" = 4 ] || { echo "test-workflow: mem_mb of the dry run's jobs:" >&2; grep 'resources:' "$WORK/dry.log" >&2; exit 1; }
    if timeout -k 10 120 snakemake -n --cores 2 "${common[@]}" compress_level=6 >"$WORK/dry.log" 2>&1 ||
        ! grep -q 'compress_level is set but compress is not bgzf' "$WORK/dry.log"; then
        echo "test-workflow: a level without BGZF output was not refused:" >&2
        tail -n 5 "$WORK/dry.log" >&2
        exit 1
    fi
    if timeout -k 10 120 snakemake -n --cores 2 "${common[@]}" format=vcf >"$WORK/dry.log" 2>&1 ||
        ! grep -q 'gathered only in the table format' "$WORK/dry.log"; then
        echo "test-workflow: a scattered matrix was not refused in VCF:" >&2
        tail -n 5 "$WORK/dry.log" >&2
        exit 1
    fi
fi

if [ "$mode" = local ]; then
    timeout -k 10 600 snakemake --cores 2 "${common[@]}" >"$WORK/snakemake.log" 2>&1 ||
        { tail -n 40 "$WORK/snakemake.log"; exit 1; }
else
    STATE=$WORK scripts/slurm-local.sh up
    # No accounting on this cluster: poll squeue (see scripts/slurm-local.sh). One thread
    # per job, so the node's two CPUs run two jobs at a time.
    timeout -k 10 600 snakemake --workflow-profile workflow/profiles/slurm \
        --slurm-status-command squeue --slurm-init-seconds-before-status-checks 2 \
        --slurm-no-account "${common[@]}" threads=1 >"$WORK/snakemake.log" 2>&1 ||
        { tail -n 40 "$WORK/snakemake.log"; exit 1; }
fi

# The outputs: one per matrix, each as `hapflow convert` writes it, nothing else.
got=$(cd "$results" && ls | sed 's/\.haplotype\.txt$//' | LC_ALL=C sort | tr '\n' ' ')
if [ "$got" != "$expected " ]; then
    echo "test-workflow: results hold [$got], expected [$expected ]" >&2
    exit 1
fi
for f in plain.txt gzip.tsv.gz bgzf.txt.bgz big.txt.gz; do
    stem=${f%%.*}
    "$REFERENCE" convert --quiet "$m/$f" -o "$WORK/expected.txt"
    if ! cmp "$WORK/expected.txt" "$results/$stem.haplotype.txt"; then
        echo "test-workflow: $stem.haplotype.txt differs from hapflow convert's output" >&2
        exit 1
    fi
done
parts=$(grep -c . "$results/.scatter/big/contigs.txt")
[ "$parts" = 3 ] || { echo "test-workflow: big.txt.gz scattered into $parts contigs, not 3" >&2; exit 1; }
for i in 0 1 2; do grep -q '^hapflow: .* 1 contigs' "$logs/scatter/big/$i.log"; done

if [ "$mode" = local ]; then
    # A matrix to scatter whose header starts with CHROM, not #CHROM: tabix cannot index it,
    # and the index job's log says what to change.
    mkdir -p "$WORK/plain-header"
    "$REFERENCE" generate --size 1MiB --contigs 2 --header-line --bgzip -o "$WORK/plain-header/h.txt.gz"
    if timeout -k 10 120 snakemake --cores 1 --config "matrices=$WORK/plain-header" \
        "results=$WORK/plain-header-out" "logs=$WORK/plain-header-logs" "hapflow=$HAPFLOW" \
        'scatter=[h.txt.gz]' >"$WORK/plain-header.log" 2>&1; then
        echo "test-workflow: a CHROM header was scattered without an error" >&2
        exit 1
    fi
    grep -q 'its header line must start with #CHROM for tabix' "$WORK/plain-header-logs/scatter/h/index.log" ||
        { echo "test-workflow: no hint in the index log:" >&2; cat "$WORK/plain-header-logs/scatter/h/index.log" >&2; exit 1; }
fi

# Where each job ran: every log's first line names the Slurm job (or none).
job_logs=("$logs"/convert/*.log "$logs"/scatter/big/*.log)
[ "${#job_logs[@]}" = 8 ] || { echo "test-workflow: ${#job_logs[@]} job logs, not 8" >&2; exit 1; }
if [ "$mode" = local ]; then
    for log in "${job_logs[@]}"; do
        grep -qx 'host .*, Slurm job none' "$log" || { echo "test-workflow: $log: not run locally" >&2; exit 1; }
    done
else
    submitted=$(grep -c 'has been submitted with SLURM jobid' "$WORK/snakemake.log")
    [ "$submitted" = 8 ] || { echo "test-workflow: $submitted jobs submitted to Slurm, not 8" >&2; exit 1; }
    for log in "${job_logs[@]}"; do
        id=$(sed -n '1s/^host .*, Slurm job \([0-9][0-9]*\)$/\1/p' "$log")
        [ -n "$id" ] || { echo "test-workflow: $log: not run under Slurm: $(head -n 1 "$log")" >&2; exit 1; }
        job=$(scontrol show job "$id")
        grep -q 'JobState=COMPLETED' <<<"$job" || { echo "test-workflow: Slurm job $id: $job" >&2; exit 1; }
        case "$log" in */index.log | */gather.log) continue ;; esac
        # hapflow's 64 MiB limit (68 MB) plus the 300 MB margin; one CPU; 10 min + size.
        for want in 'NumCPUs=1 ' 'MinMemoryNode=368M ' 'TimeLimit=00:11:00 '; do
            grep -q "$want" <<<"$job" || { echo "test-workflow: Slurm job $id lacks $want: $job" >&2; exit 1; }
        done
    done
fi
echo "test-workflow: $mode: $expected converted, identical to hapflow convert; $(($(date +%s) - started)) s"
