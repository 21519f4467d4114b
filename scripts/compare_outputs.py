#!/usr/bin/env python3
"""Compare a hapflow output with the reference script's: same header, same rows per contig
in the same order, ALT compared as a set (the reference's ALT order is arbitrary). The
reference sorts contigs; hapflow keeps first-appearance order, so contig order is not
compared here (the Rust tests check it against the input)."""
import sys
from collections import OrderedDict


def load(path):
    with open(path, newline="") as f:
        header = f.readline().rstrip("\n")
        groups = OrderedDict()
        for line in f:
            fields = line.rstrip("\n").split("\t")
            fields[3] = frozenset(fields[3].split(","))
            groups.setdefault(fields[0], []).append(fields)
    return header, groups


def main():
    ours, ref = load(sys.argv[1]), load(sys.argv[2])
    if ours[0] != ref[0]:
        sys.exit("headers differ:\n%s\n%s" % (ours[0], ref[0]))
    if set(ours[1]) != set(ref[1]):
        sys.exit("contigs differ: %s vs %s" % (sorted(ours[1]), sorted(ref[1])))
    for contig, rows in ours[1].items():
        other = ref[1][contig]
        if len(rows) != len(other):
            sys.exit("contig %s: %d rows vs %d" % (contig, len(rows), len(other)))
        for a, b in zip(rows, other):
            if a != b:
                sys.exit("contig %s differs:\n%s\n%s" % (contig, a, b))
    print("same conversion: %d contigs, %d rows" % (len(ours[1]), sum(map(len, ours[1].values()))))


main()
