#!/usr/bin/env bash
# Regenerates tests/data/golden: small matrices of every input shape (made by
# `hapflow generate`, deterministic by seed) and the reference script's output for each.
# Needs pandas. The reference reads headerless plain text or gzip with a header file, so a
# case with a header line is given to it without that line.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release
hapflow=target/release/hapflow
reference=${REFERENCE:-../shared/reference/matrix_to_haplotype.py}
out=tests/data/golden
rm -rf "$out"
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$hapflow" generate --rows 0 --header-line -o "$work/h.txt"
head -n 1 "$work/h.txt" > "$out/header.txt"

# case name | input file name | generate options
cases=(
  "plain|input.txt|--rows 1500 --contigs 3 --seed 11"
  "odd_alleles|input.txt|--rows 1500 --contigs 2 --odd-alleles --seed 12"
  "header_line|input.txt|--rows 1000 --contigs 2 --header-line --seed 13"
  "unsorted_names|input.txt|--rows 1500 --contigs 12 --shuffle-contigs --seed 14"
  "interleaved|input.txt|--rows 1500 --contigs 4 --interleave 7 --seed 15"
  "crlf|input.txt|--rows 1000 --contigs 2 --crlf --seed 16"
  "gzip|input.txt.gz|--rows 1000 --contigs 2 --gzip --seed 17"
  "bgzip|input.txt.gz|--rows 3000 --contigs 3 --bgzip --seed 18"
  "scaffolds_2000|input.txt|--rows 6000 --contigs 2000 --prefix scaffold_ --shuffle-contigs --interleave 1 --seed 19"
)
for case in "${cases[@]}"; do
  IFS='|' read -r name file opts <<<"$case"
  mkdir -p "$out/$name"
  # shellcheck disable=SC2086
  "$hapflow" generate $opts -o "$out/$name/$file"
  echo "$opts" > "$out/$name/generate.args"
  input="$out/$name/$file"
  if [[ "$opts" == *--header-line* ]]; then
    tail -n +2 "$input" > "$work/$name.txt"
    input="$work/$name.txt"
  fi
  python3 "$reference" "$input" "$out/header.txt" "$out/$name/reference.txt" 2 2>/dev/null
  echo "$name: $(wc -l < "$out/$name/reference.txt") reference rows"
done
