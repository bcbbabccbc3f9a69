"""Plans a mesh spec from Python and writes every job and file out.

Shows the whole flow of ``istio_nomad``: the spec is parsed and validated once, the plan is
pure data (jobs with their roles, dependency stages, iptables rules, VM bundles), and
``Plan.write`` renders it to disk: ``jobs/<id>.nomad.hcl`` (for ``nomad job run``) and
``jobs/<id>.json`` (the ``POST /v1/jobs`` body) for every job.

Run it from the repository root after building the module (``maturin develop`` in
``istio-nomad-py``)::

    python examples/python/plan_mesh.py                                   # Bookinfo -> out/bookinfo
    python examples/python/plan_mesh.py my.mesh.hcl --out out/my-mesh
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import istio_nomad

BOOKINFO = Path(__file__).resolve().parents[1] / "bookinfo.mesh.hcl"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", nargs="?", type=Path, default=BOOKINFO, help="mesh spec (HCL, or JSON)")
    parser.add_argument("--out", type=Path, default=Path("out/bookinfo"), help="output folder")
    args = parser.parse_args(argv)

    try:
        spec = istio_nomad.MeshSpec.from_file(args.spec)
        plan = istio_nomad.plan(spec)
        written = plan.write(args.out)
    except istio_nomad.ValidationError as e:
        print(f"error: {len(e.errors)} problem(s) in {args.spec}:", file=sys.stderr)
        for path, message in e.errors:
            print(f"  - {path}: {message}", file=sys.stderr)
        return 1
    except istio_nomad.MeshError as e:
        print(f"error ({e.family}): {e}", file=sys.stderr)
        return 1

    print(f"mesh {spec.name!r}: {len(plan.jobs)} jobs, {len(written)} files written to {args.out}")
    for i, stage in enumerate(plan.order, start=1):
        print(f"  stage {i}: {', '.join(stage)}")
    for pj in plan.planned:
        waits = f" (after {', '.join(pj.depends_on)})" if pj.depends_on else ""
        print(f"  {pj.id:<24} {pj.role:<10} groups: {', '.join(pj.job.groups)}{waits}")
    print(f"spec hash {plan.spec_hash}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
