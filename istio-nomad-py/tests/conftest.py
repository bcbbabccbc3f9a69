"""Shared fixtures: repository paths, the Bookinfo spec, the Rust reference output."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Optional

import pytest

import istio_nomad

REPO = Path(__file__).resolve().parents[2]
BOOKINFO = REPO / "examples" / "bookinfo.mesh.hcl"
BROKEN = REPO / "istio-nomad-core" / "tests" / "data" / "broken"
GOLDEN = REPO / "istio-nomad-core" / "tests" / "golden"


def shared_data() -> Optional[Path]:
    """`../shared/data` beside the repository (or `$ISTIO_NOMAD_SHARED_DATA`); missing: a
    failure with CI=true, else a skip."""
    d = Path(os.environ.get("ISTIO_NOMAD_SHARED_DATA") or REPO.parent / "shared" / "data")
    if d.is_dir():
        return d
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but the shared test data folder {d} is missing")
    pytest.skip("skipped: ../shared/data not found")
    return None


@pytest.fixture(scope="session")
def bookinfo_text() -> str:
    return BOOKINFO.read_text()


@pytest.fixture(scope="session")
def bookinfo(bookinfo_text: str) -> istio_nomad.MeshSpec:
    return istio_nomad.MeshSpec.from_hcl(bookinfo_text)


def cargo() -> str:
    exe = shutil.which("cargo")
    if exe is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but cargo is not on PATH")
        pytest.skip("skipped: cargo not found (needed to run the Rust reference example)")
    assert exe is not None
    return exe


def rust_plan_render(*args: str) -> Any:
    """Runs the Rust example `plan_render` (istio-nomad-py/examples) and parses its JSON."""
    out = subprocess.run(
        [cargo(), "run", "-q", "-p", "istio-nomad-py", "--example", "plan_render", "--", *args],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)


