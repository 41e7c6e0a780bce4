#!/usr/bin/env python3
"""cuda_headers.py ROOT [--hash]: the headers a CUDA source of exec/ can
include (every .h and .cuh under common/ and exec/), one path a line; with
--hash, one SHA-1 of their paths and contents instead. exec/meson.build
uses both where Meson gives nvcc no dependency flags (before 1.4)."""
import hashlib
import os
import sys


def headers(root):
    found = []
    for top in ("common", "exec"):
        for folder, subdirs, names in os.walk(os.path.join(root, top)):
            subdirs.sort()
            found += [os.path.join(folder, n) for n in sorted(names) if n.endswith((".h", ".cuh"))]
    return found


def main():
    paths = headers(sys.argv[1])
    if "--hash" not in sys.argv[2:]:
        print("\n".join(paths))
        return
    h = hashlib.sha1()
    for p in paths:
        with open(p, "rb") as f:
            h.update(os.path.relpath(p, sys.argv[1]).encode() + b"\0" + f.read() + b"\0")
    print(h.hexdigest())


if __name__ == "__main__":
    main()
