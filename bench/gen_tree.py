#!/usr/bin/env python3
"""Generates the benchmark tree: 100,000 files, about 2 GB, with a size mix like an
installed system (most files small, a few large), deterministic for a given seed.

usage: gen_tree.py ROOT [--files N] [--seed S]
"""
import argparse
import os
import random

p = argparse.ArgumentParser()
p.add_argument("root")
p.add_argument("--files", type=int, default=100_000)
p.add_argument("--seed", type=int, default=42)
a = p.parse_args()

rng = random.Random(a.seed)


def size():
    r = rng.random()
    if r < 0.75:
        return rng.randint(0, 4096)
    if r < 0.95:
        return rng.randint(4096, 32768)
    if r < 0.995:
        return rng.randint(32768, 262144)
    return rng.randint(1 << 20, 2_400_000)


total = 0
per_leaf = 100
for i in range(a.files):
    d = os.path.join(a.root, f"d{i // (per_leaf * 10):03d}", f"s{(i // per_leaf) % 10}")
    if i % per_leaf == 0:
        os.makedirs(d, exist_ok=True)
    n = size()
    with open(os.path.join(d, f"f{i:06d}.bin"), "wb") as f:
        f.write(rng.randbytes(n))
    total += n
    if i % 1000 == 0:
        os.symlink(f"f{i:06d}.bin", os.path.join(d, f"link{i:06d}"))
print(f"{a.files} files, {total / 1e9:.2f} GB in {a.root}")
