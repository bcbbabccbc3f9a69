"""Measures ``plan(bookinfo)`` plus rendering from Python against the same work in Rust.

One iteration plans the Bookinfo spec and renders every file of the plan (``Plan.files()``:
HCL and register JSON of every job, rules files, VM bundles; what ``Plan.write`` writes,
without the disk). While the core is built without HCL rendering, one iteration renders every
job's register JSON instead; both sides pick the same work. The Rust figure comes from the
example ``plan_render bench`` (istio-nomad-py/examples/plan_render.rs), built in release mode
like the Python module should be (``maturin develop --release``). Each side reports the mean of its best of five rounds.

    python examples/python/bench_plan.py                # 2000 iterations each
    python examples/python/bench_plan.py -n 5000 --no-rust
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import istio_nomad

ROOT = Path(__file__).resolve().parents[2]
BOOKINFO = ROOT / "examples" / "bookinfo.mesh.hcl"


def files_available(spec: istio_nomad.MeshSpec) -> bool:
    try:
        istio_nomad.plan(spec).files()
    except istio_nomad.SpecError:
        return False
    return True


def plan_and_render(spec: istio_nomad.MeshSpec, with_files: bool) -> int:
    p = istio_nomad.plan(spec)
    if with_files:
        return sum(len(contents) for _, contents in p.files())
    return sum(len(job.to_register_json()) for job in p.jobs)


ROUNDS = 5  # as in plan_render.rs: the best round is the figure least disturbed by other work


def bench_python(spec: istio_nomad.MeshSpec, iterations: int) -> dict[str, Any]:
    with_files = files_available(spec)
    for _ in range(iterations // 10 + 1):
        plan_and_render(spec, with_files)
    per_round = max(iterations // ROUNDS, 1)
    best = float("inf")
    n = 0
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(per_round):
            n = plan_and_render(spec, with_files)
        best = min(best, (time.perf_counter() - start) * 1e6 / per_round)
    work = "plan + files()" if with_files else "plan + to_register_json()"
    return {"work": work, "iterations": per_round * ROUNDS, "mean_us": best, "bytes": n}


def bench_rust(iterations: int) -> dict[str, Any]:
    out = subprocess.run(
        ["cargo", "run", "-q", "--release", "-p", "istio-nomad-py", "--example", "plan_render", "--",
         "bench", str(BOOKINFO), str(iterations)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--iterations", type=int, default=2000)
    parser.add_argument("--no-rust", action="store_true", help="skip the Rust figure")
    args = parser.parse_args(argv)

    spec = istio_nomad.MeshSpec.from_file(BOOKINFO)
    py = bench_python(spec, args.iterations)
    print(f"python: {py['work']}: {py['mean_us']:.1f} us per iteration ({py['iterations']} iterations, {py['bytes']} bytes)")
    if args.no_rust:
        return 0
    rs = bench_rust(args.iterations)
    print(f"rust:   {rs['work']}: {rs['mean_us']:.1f} us per iteration ({rs['iterations']} iterations, {rs['bytes']} bytes)")
    if rs["work"] != py["work"] or rs["bytes"] != py["bytes"]:
        print("warning: the two sides did different work", file=sys.stderr)
        return 1
    print(f"ratio python/rust: {py['mean_us'] / rs['mean_us']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
