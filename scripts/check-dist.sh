#!/usr/bin/env bash
# Checks what scripts/build-dist.sh wrote into dist/:
# - the binary needs no GLIBC symbol version newer than 2.17 (objdump -T);
# - it runs here and converts a generated matrix to the same bytes as REFERENCE (another
#   hapflow build, default target/release/hapflow), also when it replaces an existing output
#   and also when the kernel lacks renameat2 (ENOSYS injected with strace: CentOS 7's 3.10
#   kernel), where it falls back to a plain rename;
# - the wheel installs into a fresh venv with pip (no index: only the wheel), puts `hapflow`
#   on the venv's PATH, and that one prints its version and converts the same matrix.
#
# Usage: scripts/check-dist.sh [VENV]   (VENV: where to install the wheel; default a new
#        folder under /tmp, removed at the end; a given one is kept for later use)
set -euo pipefail
cd "$(dirname "$0")/.."
REFERENCE=$(realpath "${REFERENCE:-target/release/hapflow}")
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
binary=$(realpath "dist/hapflow-$version-x86_64-linux-gnu")
wheels=(dist/hapflow-"$version"-*.whl)
[ -f "${wheels[0]}" ] && [ "${#wheels[@]}" = 1 ] || { echo "check-dist: expected one wheel, found: ${wheels[*]}" >&2; exit 1; }
for tool in objdump strace; do
    if ! command -v "$tool" >/dev/null; then
        apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q binutils strace
    fi
done
work=$(mktemp -d /tmp/hapflow-dist.XXXXXX)
venv=$(realpath -m "${1:-$work/venv}")
trap 'rm -rf "$work"' EXIT
fail() { echo "check-dist: $*" >&2; exit 1; }

newest=$(objdump -T "$binary" | grep -o 'GLIBC_[0-9][0-9.]*' | sort -Vu | tail -n 1)
[ "$(printf '%s\n' GLIBC_2.17 "$newest" | sort -V | tail -n 1)" = GLIBC_2.17 ] ||
    fail "$binary needs $newest, newer than glibc 2.17"
echo "check-dist: newest GLIBC symbol version needed: $newest"

"$binary" --version | grep -qx "hapflow $version" || fail "$binary --version: $("$binary" --version)"
"$REFERENCE" generate --size 8MiB --contigs 5 --seed 7 -o "$work/m.txt"
"$REFERENCE" convert --quiet "$work/m.txt" -o "$work/expected.txt"
"$binary" convert --quiet "$work/m.txt" -o "$work/out.txt"
cmp "$work/expected.txt" "$work/out.txt" || fail "$binary converts differently from $REFERENCE"
# Replacing the existing output: swapped by the renameat2 syscall...
"$binary" generate --size 1MiB --seed 8 -o "$work/out.txt"
strace -f -e trace=renameat2 -o "$work/strace.txt" "$binary" convert --quiet "$work/m.txt" -o "$work/out.txt"
grep -q 'renameat2(.*RENAME_EXCHANGE) = 0' "$work/strace.txt" || fail "no swap: $(cat "$work/strace.txt")"
cmp "$work/expected.txt" "$work/out.txt" || fail "the swapped output differs"
# ...and on a kernel without it, renamed over.
"$binary" generate --size 1MiB --seed 8 -o "$work/out.txt"
strace -f -e trace=renameat2,rename,renameat -e inject=renameat2:error=ENOSYS -o "$work/strace.txt" \
    "$binary" convert --quiet "$work/m.txt" -o "$work/out.txt"
grep -q 'renameat2(.*) = -1 ENOSYS' "$work/strace.txt" || fail "ENOSYS not injected: $(cat "$work/strace.txt")"
cmp "$work/expected.txt" "$work/out.txt" || fail "without renameat2 the output differs"
echo "check-dist: $binary runs, converts as $REFERENCE does, with and without renameat2"

python3 -m venv --clear "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check --no-index "${wheels[0]}"
installed=$(PATH="$venv/bin:$PATH" command -v hapflow)
[ "$installed" = "$venv/bin/hapflow" ] || fail "pip put hapflow at $installed, not in the venv's bin"
PATH="$venv/bin:$PATH" hapflow --version | grep -qx "hapflow $version" || fail "the wheel's hapflow --version"
(cd "$work" && PATH="$venv/bin:$PATH" hapflow convert --quiet m.txt -o wheel.txt)
cmp "$work/expected.txt" "$work/wheel.txt" || fail "the wheel's hapflow converts differently"
echo "check-dist: ${wheels[0]} installs with pip; its hapflow converts as $REFERENCE does"
