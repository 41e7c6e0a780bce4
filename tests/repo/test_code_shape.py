#!/usr/bin/env python3
"""The shape the code keeps (docs/ARCHITECTURE.md): no source file over 600
lines, no C/CUDA function over 60 lines unless the comment above it says why
(a line with "Long:"), no SQL outside common/store/, and common/ never
including a header of sim/ or exec/.

usage: test_code_shape.py SOURCE_ROOT"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from pycheck import check, result  # noqa: E402

ROOT = os.path.realpath(sys.argv[1])
MAX_FILE_LINES = 600
MAX_FUNCTION_LINES = 60
SOURCE = re.compile(r"\.(c|h|cu|cuh|py|sh)$")
C_SOURCE = re.compile(r"\.(c|cu|cuh|h)$")
# A function definition starts at column 0 with a name and '(' and ends
# with a '}' at column 0.
DEF_START = re.compile(r"^[A-Za-z_][\w \t\*]*\b(\w+)\s*\([^;]*$")


def all_files():
    """The files of the checkout (git's view when ROOT is a checkout, else
    a walk that skips hidden and build folders: .ci/run tests a copy)."""
    try:
        return subprocess.run(["git", "-C", ROOT, "ls-files", "--cached", "--others", "--exclude-standard"],
                              capture_output=True, text=True, check=True).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        files = []
        for d, subdirs, names in os.walk(ROOT):
            subdirs[:] = [x for x in subdirs if not x.startswith((".", "build"))]
            files += [os.path.relpath(os.path.join(d, n), ROOT) for n in names]
        return files


def source_files():
    out = all_files()
    tops = ("common/", "sim/", "exec/", "tests/", "experiments/")
    return [p for p in out if p.startswith(tops) and SOURCE.search(p)
            and os.path.isfile(os.path.join(ROOT, p))]


def long_functions(lines):
    """(name, first line, length) of functions over the limit without a
    "Long:" reason in the comment block just above them."""
    found, i = [], 0
    while i < len(lines):
        m = DEF_START.match(lines[i])
        if not m or lines[i].startswith(("static const", "const ", "struct ", "enum ", "typedef")) and "(" not in lines[i]:
            i += 1
            continue
        j = i
        while j < len(lines) and lines[j] != "{" and not lines[j].endswith("{") and not lines[j].endswith(";"):
            j += 1
        if j >= len(lines) or lines[j].endswith(";"):
            i = j + 1
            continue
        k = j + 1
        while k < len(lines) and lines[k] != "}":
            k += 1
        length = k - i + 1
        above = "\n".join(lines[max(0, i - 12):i])
        if length > MAX_FUNCTION_LINES and "Long:" not in above:
            found.append((m.group(1), i + 1, length))
        i = k + 1
    return found


def resolved_include(path, inc):
    """The repository path an #include "inc" of file path names: beside the
    file if it exists there, else under common/ (the include directory)."""
    local = os.path.normpath(os.path.join(os.path.dirname(path), inc))
    if os.path.exists(os.path.join(ROOT, local)):
        return local
    return os.path.normpath(os.path.join("common", inc))


def check_layers(path, text):
    """common/ includes only common/ headers (also through "../"); SQL
    only in common/store/."""
    if path.startswith("common/"):
        for m in re.finditer(r'#include\s+"([^"]+)"', text):
            inc = resolved_include(path, m.group(1))
            check(inc.startswith("common/") and os.path.exists(os.path.join(ROOT, inc)),
                  f"{path} includes \"{m.group(1)}\", which is not a header of common/ ({inc})")
    if not path.startswith("common/store/"):
        check("sqlite3_" not in text and "sqlite3.h" not in text, f"{path}: SQL belongs in common/store/")


def main():
    files = source_files()
    check(len(files) > 50, f"found the source files ({len(files)})")
    for path in files:
        with open(os.path.join(ROOT, path), errors="replace") as f:
            lines = f.read().split("\n")
        check(len(lines) - 1 <= MAX_FILE_LINES, f"{path}: {len(lines) - 1} lines (at most {MAX_FILE_LINES})")
        if C_SOURCE.search(path):
            for name, line, n in long_functions(lines):
                check(False, f"{path}:{line}: function {name} has {n} lines (at most {MAX_FUNCTION_LINES}, "
                             "or a comment above it with 'Long:' and the reason)")
        if C_SOURCE.search(path) and path.startswith(("common/", "sim/", "exec/")):
            check_layers(path, "\n".join(lines))
    return result("test_code_shape")


if __name__ == "__main__":
    sys.exit(main())
