# Functions only (Snakemake's linter wants rules and functions in separate files): which
# matrices there are, what each output is called, and what each job asks the scheduler for.

import math
import os
import re
import shlex
import shutil
import socket
import tomllib
from pathlib import Path

from snakemake.utils import validate


validate(config, schema="../schemas/config.schema.yaml")

# Compression suffixes removed before the extension, as hapflow's daemon names outputs.
# As the daemon names outputs: one trailing compression extension, in any case.
COMPRESSION_SUFFIXES = (".gz", ".gzip", ".bgz", ".bgzf", ".zst", ".zstd", ".xz", ".bz2", ".bzip2")
# Not matrices: names being written, and the index files tabix, samtools and bgzip leave.
SKIPPED_SUFFIXES = (
    ".part",
    ".partial",
    ".tmp",
    ".filepart",
    ".crdownload",
    "~",
    ".tbi",
    ".csi",
    ".gzi",
    ".fai",
)
# hapflow's default memory limit (hapflow convert --help, README "Memory").
DEFAULT_MEMORY_LIMIT = "256MiB"
SIZE_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mib": 1 << 20}
SIZE_UNITS.update({"g": 1 << 30, "gib": 1 << 30})


def is_set(value):
    """A config value the user set: not null and not the empty string."""
    return value is not None and value != ""


def matrix_stem(name):
    """The output stem of a matrix file name: without a trailing compression suffix, then
    without its last extension (`chr.txt.gz` -> `chr`, `a.b.tsv` -> `a.b`)."""
    for suffix in COMPRESSION_SUFFIXES:
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
            break
    stem, dot, _ = name.rpartition(".")
    return stem if dot and stem else name


def find_matrices(folder):
    """{stem: path} for every regular file of `folder` that is a matrix (not hidden, not a
    temporary or index file). Two files with one stem are an error: one output each."""
    root = Path(folder)
    if not root.is_dir():
        raise WorkflowError(
            f"matrices: {folder!r} is not a folder (set it with --config matrices=DIR)"
        )
    if root.resolve() == Path(config["results"]).resolve():
        raise WorkflowError(
            f"matrices and results are one folder ({folder!r}): the outputs would be taken "
            "for matrices on the next run; give results a folder of its own"
        )
    found = {}
    for path in sorted(root.iterdir()):
        name = path.name
        if name.startswith(".") or name.endswith(SKIPPED_SUFFIXES) or not path.is_file():
            continue
        stem = matrix_stem(name)
        if stem in found:
            raise WorkflowError(
                f"{found[stem]} and {path} would both be converted to {stem}{output_suffix()}: "
                "rename one of them"
            )
        found[stem] = str(path)
    return found


def parse_size(text):
    """Bytes of a hapflow size (`256MiB`, `1G`, `1048576`): binary units, as hapflow reads it."""
    match = re.fullmatch(r"\s*([0-9.]+)\s*([A-Za-z]*)\s*", str(text))
    unit = match.group(2).lower() if match else None
    if unit not in SIZE_UNITS:
        raise WorkflowError(
            f"memory_limit: invalid size {text!r}: a number and one of B, KiB, MiB, GiB (or K, M, G)"
        )
    return round(float(match.group(1)) * SIZE_UNITS[unit])


def memory_limit():
    """hapflow's memory limit, as written: the config's `memory_limit`, else the
    `[memory] limit` of `hapflow_config`, else hapflow's default."""
    if is_set(config.get("memory_limit")):
        return str(config["memory_limit"])
    if is_set(config.get("hapflow_config")):
        with open(config["hapflow_config"], "rb") as f:
            limit = tomllib.load(f).get("memory", {}).get("limit")
        if limit is not None:
            return str(limit)
    return DEFAULT_MEMORY_LIMIT


def job_mem_mb():
    """Megabytes (10^6 bytes, Snakemake's mem_mb) a job asks for: hapflow's limit, which
    bounds its peak resident memory, plus `mem_margin_mb` for the rest of the job."""
    return math.ceil(parse_size(memory_limit()) / 1e6) + int(config["mem_margin_mb"])


def job_runtime(wildcards, input):
    """Minutes (Snakemake's runtime, Slurm's --time) for a job reading `input`: a floor plus
    the inputs' size at a conservative rate, compressed files counted at their usual ratio."""
    rate = config["runtime"]
    size_mb = 0.0
    for name in input:
        path = Path(name)
        mb = path.stat().st_size / 1e6
        size_mb += mb * rate["compressed_ratio"] if path.name.lower().endswith(COMPRESSION_SUFFIXES) else mb
    return int(rate["min_minutes"]) + math.ceil(size_mb / rate["mb_per_second"] / 60)


def small_job_mem_mb():
    """Megabytes for a job that only copies or indexes (no hapflow): the margin alone, plus
    room for tabix's or the copy's buffers."""
    return int(config["mem_margin_mb"]) + 100


def output_suffix():
    """What follows the stem in an output name, from the configured format and compression."""
    base = ".vcf" if config.get("format") == "vcf" else ".haplotype.txt"
    return base + (".gz" if config.get("compress") == "bgzf" else "")


def hapflow_flags():
    """The `hapflow convert` flags every job shares (memory limit and threads aside).
    `compress_level` without `compress: bgzf` is an error here, as `--compress-level` with
    a plain output is to `hapflow convert`."""
    if is_set(config.get("compress_level")) and config.get("compress") != "bgzf":
        raise WorkflowError(
            "compress_level is set but compress is not bgzf: the outputs would be plain text, "
            "which has no level; set compress: bgzf or leave compress_level null"
        )
    flags = []
    if is_set(config.get("hapflow_config")):
        flags += ["--config", config["hapflow_config"]]
    for key, flag in (
        ("format", "--format"),
        ("compress", "--compress"),
        ("compress_level", "--compress-level"),
    ):
        if is_set(config.get(key)):
            flags += [flag, str(config[key])]
    return " ".join(shlex.quote(f) for f in flags)


def stems_regex(stems):
    """A wildcard constraint matching exactly these stems (nothing when there are none)."""
    if not stems:
        return "(?!)"
    return "|".join(re.escape(s) for s in sorted(stems))


def scattered_stems(matrices):
    """Stems of the matrices listed in `scatter`, checked: they exist, and their output can
    be gathered byte for byte (the table format, uncompressed)."""
    by_name = {Path(path).name: stem for stem, path in matrices.items()}
    stems = []
    for name in config["scatter"]:
        if name not in by_name:
            raise WorkflowError(
                f"scatter: {name!r} is not a matrix of {config['matrices']!r}"
            )
        stems.append(by_name[name])
    if stems and (
        config.get("format") not in (None, "", "table")
        or config.get("compress") not in (None, "", "none")
    ):
        raise WorkflowError(
            "scatter: a matrix converted by contig is gathered only in the table format "
            "without compression (each part's VCF header names its own contigs, and BGZF "
            "blocks would break at other places); convert it whole or change format/compress"
        )
    return stems


def contig_count(contigs_file):
    """Number of contigs listed (one per line) in a scattered matrix's contigs file."""
    with open(contigs_file) as f:
        return sum(1 for line in f if line.strip())


def contig_name(contigs_file, index):
    """The contig on line `index` (0-based) of a scattered matrix's contigs file."""
    with open(contigs_file) as f:
        names = [line.rstrip("\n") for line in f if line.strip()]
    return names[index]


def scatter_parts(wildcards):
    """The per-contig outputs of a scattered matrix, once its index lists the contigs."""
    contigs = checkpoints.scatter_index.get(stem=wildcards.stem).output.contigs
    return [
        f"{RESULTS}/.scatter/{wildcards.stem}/parts/{i}.txt"
        for i in range(contig_count(contigs))
    ]


def gather_tables(parts, output, log):
    """Writes the tables `parts` (one per contig, in the matrix's contig order) as one: the
    first part whole, the others without their header line. hapflow groups rows by contig in
    order of first appearance, so this is byte for byte the whole file's conversion. `log`
    says where the job ran and what it gathered."""
    with open(log, "w") as f:
        slurm_job = os.environ.get("SLURM_JOB_ID", "none")
        print(f"host {socket.gethostname()}, Slurm job {slurm_job}", file=f)
        print(f"gathering {len(parts)} contig tables into {output}", file=f)
    with open(output, "wb") as out:
        for i, part in enumerate(parts):
            with open(part, "rb") as f:
                if i > 0:
                    f.readline()
                shutil.copyfileobj(f, out, 1 << 20)
