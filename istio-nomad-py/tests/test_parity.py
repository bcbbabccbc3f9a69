"""Python results equal the Rust results for the same inputs.

The Rust side is the example `plan_render dump` (istio-nomad-py/examples/plan_render.rs), the
`mesh` command line of the examples crate, and the core's golden files when present.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, Callable

import pytest

import istio_nomad
from istio_nomad import Job, MeshSpec, plan

from conftest import BOOKINFO, GOLDEN, REPO, cargo, rust_plan_render, shared_data


def outcome(render: Callable[[], Any]) -> dict[str, Any]:
    try:
        return {"ok": render()}
    except istio_nomad.MeshError as e:
        return {"error": {"family": e.family, "message": str(e)}}


def python_dump(spec_path: Path) -> dict[str, Any]:
    """The document `plan_render dump` prints, built with istio_nomad."""
    spec = MeshSpec.from_file(spec_path)
    p = plan(spec)
    return {
        "spec": spec.to_dict(),
        "spec_hash": p.spec_hash,
        "order": p.order,
        "jobs": [
            {
                "id": pj.id,
                "role": pj.role,
                "depends_on": pj.depends_on,
                "dict": pj.job.to_dict(),
                "json": outcome(pj.job.to_json),
                "register_json": outcome(pj.job.to_register_json),
                "hcl": outcome(pj.job.to_hcl),
            }
            for pj in p.planned
        ],
        "iptables": [
            {"job": r.job, "group": r.group, "restore": r.restore, "cleanup": r.cleanup} for r in p.iptables
        ],
        "vm_bundles": [{"service": b.service, "files": b.files} for b in p.vm_bundles],
        "files": outcome(lambda: [list(f) for f in p.files()]),
    }


@pytest.fixture(scope="module")
def rust_bookinfo() -> Any:
    return rust_plan_render("dump", str(BOOKINFO))


def test_bookinfo_equals_rust(rust_bookinfo: Any) -> None:
    py = python_dump(BOOKINFO)
    assert py.keys() == rust_bookinfo.keys()
    for key in py:
        assert py[key] == rust_bookinfo[key], key


def test_json_spec_equals_rust(tmp_path: Path, rust_bookinfo: Any) -> None:
    """The same mesh given as JSON plans identically on both sides."""
    p = tmp_path / "bookinfo.mesh.json"
    p.write_text(json.dumps({"mesh": MeshSpec.from_file(BOOKINFO).to_dict()}))
    rust = rust_plan_render("dump", str(p))
    assert python_dump(p) == rust
    assert rust["spec_hash"] == rust_bookinfo["spec_hash"]


def test_job_register_json_equals_mesh_fmt() -> None:
    """`mesh fmt <job.json> --to json` (Rust) prints what Job.to_register_json() returns."""
    data = shared_data()
    assert data is not None
    src = data / "nomad-api-example-job.json"
    out = subprocess.run(
        [cargo(), "run", "-q", "-p", "istio-nomad-examples", "--bin", "mesh", "--",
         "fmt", str(src), "--to", "json", "--no-validate"],
        cwd=REPO, check=True, capture_output=True, text=True,
    )
    assert out.stdout == Job.from_file(src).to_register_json() + "\n"


def test_written_tree_equals_mesh_plan(tmp_path: Path) -> None:
    """`mesh plan --out` (Rust) and Plan.write (Python) write the same files, byte for byte."""
    rust_out, py_out = tmp_path / "rust", tmp_path / "py"
    subprocess.run(
        [cargo(), "run", "-q", "-p", "istio-nomad-examples", "--bin", "mesh", "--",
         "plan", str(BOOKINFO), "--out", str(rust_out)],
        cwd=REPO, check=True, capture_output=True, text=True,
    )
    written = plan(MeshSpec.from_file(BOOKINFO)).write(py_out)
    rust_files = sorted(str(p.relative_to(rust_out)) for p in rust_out.rglob("*") if p.is_file())
    assert sorted(written) == rust_files
    for rel in written:
        assert (py_out / rel).read_bytes() == (rust_out / rel).read_bytes(), rel


@pytest.mark.parametrize("profile", ["ha", "dev"])
def test_control_plane_equals_core_golden_files(profile: str) -> None:
    """The control-plane jobs of Bookinfo, rendered from Python, are the core's golden files
    (istio-nomad-core/tests/golden/control_plane/<profile>/<job>.json) byte for byte."""
    d = MeshSpec.from_file(BOOKINFO).to_dict()
    d["control_plane"]["profile"] = profile
    p = plan(MeshSpec.from_dict(d))
    golden_dir = GOLDEN / "control_plane" / profile
    goldens = sorted(golden_dir.glob("*.json"))
    assert goldens, f"no golden files in {golden_dir}"
    control = [pj for pj in p.planned if pj.role != "app"]
    assert sorted(f"{pj.id}.json" for pj in control) == [g.name for g in goldens]
    for pj in control:
        assert pj.job.to_json() + "\n" == (golden_dir / f"{pj.id}.json").read_text(), pj.id


@pytest.mark.parametrize("profile", ["ha", "dev"])
def test_plan_files_equal_core_golden_files(profile: str, tmp_path: Path) -> None:
    """Every file of the Bookinfo plan (HCL and register JSON of every job), from Python, is
    the core's golden copy (istio-nomad-core/tests/golden/plan/bookinfo-<profile>/)."""
    text = BOOKINFO.read_text().replace('profile = "ha"', f'profile = "{profile}"')
    p = plan(MeshSpec.from_hcl(text))
    golden_dir = GOLDEN / "plan" / f"bookinfo-{profile}"
    files = p.files()
    assert "".join(f"{rel}\n" for rel, _ in files) == (golden_dir / "FILES").read_text()
    for rel, contents in files:
        assert contents == (golden_dir / rel).read_text(), rel
    written = p.write(tmp_path)
    for rel in written:
        assert (tmp_path / rel).read_bytes() == (golden_dir / rel).read_bytes(), rel


SHARED_JOBS = [
    ("countdash-tproxy.nomad.hcl", "countdash-tproxy"),
    ("jobspec-basic.hcl", "jobspec-basic"),
    ("multi-service.nomad", "multi-service"),
]


@pytest.mark.parametrize(("name", "base"), SHARED_JOBS)
def test_shared_jobs_equal_core_golden_files(name: str, base: str) -> None:
    """The shared jobspecs read and rendered from Python are the core's golden API JSON and
    HCL (istio-nomad-core/tests/golden/jobs/)."""
    data = shared_data()
    assert data is not None
    job = Job.from_file(data / "jobs" / name)
    assert job.to_hcl() == (GOLDEN / "jobs" / f"{base}.nomad.hcl").read_text()
    assert job.to_dict() == json.loads((GOLDEN / "jobs" / f"{base}.api.json").read_text())
    assert Job.from_hcl(job.to_hcl()) == job


def test_api_example_job_hcl_equals_core_golden_file() -> None:
    data = shared_data()
    assert data is not None
    job = Job.from_file(data / "nomad-api-example-job.json")
    assert job.to_hcl() == (GOLDEN / "jobs" / "nomad-api-example-job.nomad.hcl").read_text()
