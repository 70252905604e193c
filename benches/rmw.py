"""Atomic read-modify-write instructions per call, from callgrind files.

`count` runs every case under callgrind with `--dump-instr=yes
--compress-pos=no --compress-strings=no`, so each file lists every executed
instruction address (per object) with its execution count. This looks each
address up in `objdump -d` of its object and counts the executed
instructions that are atomic read-modify-writes on x86-64: `lock`-prefixed
ones and `xchg` with a memory operand (implicitly locked).

Usage: python rmw.py CALLGRIND_DIR COUNTS_JSON > rmw.json (the iterations
per case are read from the counts file that `count` wrote).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

INSN = re.compile(r"^\s*([0-9a-f]+):\s+(.*)$")


@lru_cache(maxsize=None)
def disassembly(obj: str) -> dict[int, str]:
    """address -> instruction text, for one object file."""
    try:
        text = subprocess.run(
            ["objdump", "-d", "--no-show-raw-insn", obj],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return {}
    out: dict[int, str] = {}
    for line in text.splitlines():
        m = INSN.match(line)
        if m:
            out[int(m.group(1), 16)] = m.group(2).strip()
    return out


def is_rmw(insn: str) -> bool:
    if insn.startswith("lock "):
        return True
    return insn.startswith("xchg") and "(" in insn


def executed(path: Path) -> dict[tuple[str, int], int]:
    """(object, address) -> self count, from one callgrind file."""
    counts: dict[tuple[str, int], int] = {}
    ob = ""
    skip = False
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("ob="):
            ob = line[3:]
        elif line.startswith("calls="):
            skip = True  # the next cost line is the call's inclusive cost
        elif line.startswith("0x"):
            if skip:
                skip = False
                continue
            parts = line.split()
            addr = int(parts[0], 16)
            n = int(parts[-1])
            counts[(ob, addr)] = counts.get((ob, addr), 0) + n
    return counts


def main() -> None:
    root = Path(sys.argv[1])
    iters = int(json.loads(Path(sys.argv[2]).read_text())["iters"])
    cases = []
    for f in sorted(root.glob("*.out")):
        scenario, lib = f.name[: -len(".out")].split(".", 1)
        rmw = 0
        unknown = 0
        examples: dict[str, int] = {}
        for (ob, addr), n in executed(f).items():
            insn = disassembly(ob).get(addr)
            if insn is None:
                unknown += n
            elif is_rmw(insn):
                rmw += n
                key = re.sub(r"\s+", " ", insn.split("#")[0]).strip()
                examples[key] = examples.get(key, 0) + n
        cases.append(
            {
                "scenario": scenario,
                "lib": lib,
                "rmw": rmw / iters,
                "unresolved_instructions": unknown / iters,
                "rmw_instructions": {k: v / iters for k, v in sorted(examples.items(), key=lambda kv: -kv[1])},
            }
        )
    print(json.dumps({"iters": iters, "cases": cases}, indent=1))


if __name__ == "__main__":
    main()
