"""The exception hierarchy, the package surface, and the stubs against the runtime module."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import istio_nomad

from conftest import REPO

FAMILIES = {
    "SpecError": "parse",
    "ValidationError": "validation",
    "IptablesError": "iptables",
    "BackendError": "backend",
    "ConflictError": "conflict",
    "InstallError": "install",
    "MeshIOError": "io",
    "EncodeError": "encode",
}


def test_hierarchy() -> None:
    assert issubclass(istio_nomad.MeshError, Exception)
    assert istio_nomad.MeshError is not Exception
    for name in FAMILIES:
        cls = getattr(istio_nomad, name)
        assert issubclass(cls, istio_nomad.MeshError), name
        assert cls.__module__ == "istio_nomad"
    assert issubclass(istio_nomad.MeshIOError, OSError)
    # One class per family: no class is a subclass of another family's class.
    classes = [getattr(istio_nomad, n) for n in FAMILIES]
    for a in classes:
        for b in classes:
            assert a is b or not issubclass(a, b)


def test_package_surface() -> None:
    import istio_nomad._istio_nomad as ext

    extra = {"diff_async", "apply_async", "destroy_async"}
    assert sorted(istio_nomad.__all__) == sorted([*ext.__all__, *extra])
    for name in ext.__all__:
        assert getattr(istio_nomad, name) is getattr(ext, name)
    assert istio_nomad.__version__ == "0.1.0"
    assert istio_nomad.plan.__doc__ and "GIL" in istio_nomad.plan.__doc__
    pkg = Path(istio_nomad.__file__).parent
    assert (pkg / "py.typed").is_file()
    assert (pkg / "_istio_nomad.pyi").is_file()


def test_stubs_match_runtime(tmp_path: Path) -> None:
    """mypy's stubtest compares every name and signature of the stubs with the module."""
    out = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "istio_nomad"],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # outside the repository: the installed package is what is checked
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Success: no issues found in 2 modules" in out.stdout


def test_examples_type_check(tmp_path: Path) -> None:
    """The example scripts type-check in strict mode against the shipped stubs."""
    scripts = sorted(str(p) for p in (REPO / "examples" / "python").glob("*.py"))
    assert scripts, "examples/python/*.py missing"
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "cache"), *scripts],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert out.returncode == 0, out.stdout + out.stderr
