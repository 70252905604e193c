"""Per-call overhead of the guarded path against a direct call.

Not a test and not the benchmark (that lives in benches/ and compares the
peers): a quick check that ``cb.call(f)`` stays a thin crossing into Rust.

    .venv/bin/python py/overhead.py            # after py/test.sh installed the wheel
"""

from __future__ import annotations

import importlib.util
import sys
import timeit
from pathlib import Path

import tripbit

N = 1_000_000
REPEAT = 7


def ns_per_call(stmt: str, env: dict[str, object]) -> float:
    best = min(timeit.repeat(stmt, globals=env, number=N, repeat=REPEAT))
    return best / N * 1e9


def main() -> None:
    def f() -> int:
        return 1

    cb = tripbit.CircuitBreaker(name="bench", stdout=False)
    guarded = cb(f)
    env: dict[str, object] = {"f": f, "cb": cb, "guarded": guarded}

    seed_path = Path(__file__).resolve().parents[1] / "benches" / "python" / "seed_breaker.py"
    if seed_path.exists():
        spec = importlib.util.spec_from_file_location("seed_breaker", seed_path)
        assert spec is not None and spec.loader is not None
        seed = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(seed)
        import contextlib
        import io

        with contextlib.redirect_stdout(io.StringIO()):
            env["orig"] = seed.CircuitBreaker(name="bench")

    rows = [
        ("f()  (direct)", "f()"),
        ("cb.call(f)", "cb.call(f)"),
        ("@cb guarded()", "guarded()"),
        ("cb.get_state()", "cb.get_state()"),
    ]
    if "orig" in env:
        rows.append(("original cb.call(f)", "orig.call(f)"))

    print(f"Python {sys.version.split()[0]}, tripbit {tripbit.__version__}, "
          f"best of {REPEAT} x {N:,} calls")
    direct = ns_per_call("f()", env)
    for label, stmt in rows:
        ns = direct if stmt == "f()" else ns_per_call(stmt, env)
        extra = "" if stmt == "f()" else f"  (+{ns - direct:.1f} ns over direct)"
        print(f"  {label:<22} {ns:7.1f} ns/call{extra}")


if __name__ == "__main__":
    main()
