#!/usr/bin/env bash
# Builds the portable release artefacts into dist/:
#   dist/hapflow-<version>-x86_64-linux-gnu    the release binary, stripped, needing glibc 2.17
#                                              at most (CentOS 7, RHEL 8, any newer Linux)
#   dist/hapflow-<version>-py3-none-manylinux2014_x86_64....whl
#                                              the same binary as a wheel: pip install puts
#                                              `hapflow` on PATH
# Tools come from PyPI into a venv (maturin, and zig as the `ziglang` package, which links
# against glibc 2.17's symbol stubs); the Rust toolchain is the one on PATH. The build goes
# to target/x86_64-unknown-linux-gnu/, apart from the host's target/release.
# Then it checks the binary's newest GLIBC symbol version (objdump -T, from binutils).
#
# Usage: scripts/build-dist.sh            (VENV=<dir> to keep the tools elsewhere)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-target/dist-venv}
MAX_GLIBC=2.17
started=$(date +%s)

if [ ! -x "$VENV/bin/maturin" ] || [ ! -x "$VENV/bin/python-zig" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check maturin==1.16.0 ziglang==0.17.1
fi
VENV=$(cd "$VENV" && pwd)
# maturin finds zig through the venv's python (`python -m ziglang`): the venv goes first on PATH.
export PATH="$VENV/bin:$PATH"

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
rm -f dist/hapflow-*.whl "dist/hapflow-$version-x86_64-linux-gnu"
maturin build --release --zig --compatibility manylinux2014 --strip --out dist

binary="dist/hapflow-$version-x86_64-linux-gnu"
install -m 755 target/x86_64-unknown-linux-gnu/release/hapflow "$binary"

newest=$(objdump -T "$binary" | grep -o 'GLIBC_[0-9][0-9.]*' | sort -Vu | tail -n 1)
if [ "$(printf '%s\n' "GLIBC_$MAX_GLIBC" "$newest" | sort -V | tail -n 1)" != "GLIBC_$MAX_GLIBC" ]; then
    echo "build-dist: $binary needs $newest, newer than glibc $MAX_GLIBC" >&2
    exit 1
fi
echo "build-dist: $binary (newest symbol $newest), $(ls dist/hapflow-*.whl), $(($(date +%s) - started)) s"
