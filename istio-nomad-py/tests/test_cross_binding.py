"""The Python binding and the C ABI report the same thing for the same input.

The C side is the library `libistio_nomad_ffi.so` (built with `cargo build -p
istio-nomad-ffi`), called through ctypes. Both bindings serialize the core's own types, so the
documents must be equal field for field: an error's report (`MeshError.report` against
`istio_nomad_error_json` without its `code` and `name`), a diff and an apply report of the
sample mesh on an in-memory cluster.
"""

from __future__ import annotations

import ctypes
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

import istio_nomad
from istio_nomad import MeshSpec, plan

from conftest import BOOKINFO, REPO, cargo

FORMAT_AUTO = 0


@pytest.fixture(scope="module")
def ffi() -> ctypes.CDLL:
    subprocess.run([cargo(), "build", "-q", "-p", "istio-nomad-ffi"], cwd=REPO, check=True)
    out = subprocess.run(
        [cargo(), "metadata", "-q", "--format-version", "1", "--no-deps"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    )
    lib = ctypes.CDLL(str(Path(json.loads(out.stdout)["target_directory"]) / "debug" / "libistio_nomad_ffi.so"))
    lib.istio_nomad_plan.argtypes = [
        ctypes.c_char_p,
        ctypes.c_size_t,
        ctypes.c_uint32,
        ctypes.POINTER(ctypes.c_void_p),
        ctypes.POINTER(ctypes.c_void_p),
    ]
    lib.istio_nomad_plan.restype = ctypes.c_uint32
    lib.istio_nomad_error_json.argtypes = [ctypes.c_void_p]
    lib.istio_nomad_error_json.restype = ctypes.c_char_p
    lib.istio_nomad_error_free.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
    lib.istio_nomad_string_free.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
    lib.istio_nomad_string_data.argtypes = [ctypes.c_void_p]
    lib.istio_nomad_string_data.restype = ctypes.c_char_p
    lib.istio_nomad_cluster_in_memory.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_void_p)]
    lib.istio_nomad_cluster_in_memory.restype = ctypes.c_uint32
    lib.istio_nomad_cluster_free.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
    cb = ctypes.c_void_p  # progress callback: NULL
    lib.istio_nomad_diff.argtypes = [
        ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint32, cb, ctypes.c_void_p,
        ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_void_p),
    ]
    lib.istio_nomad_diff.restype = ctypes.c_uint32
    lib.istio_nomad_apply.argtypes = [
        ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint32, ctypes.c_char_p,
        ctypes.c_size_t, cb, ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_void_p),
    ]
    lib.istio_nomad_apply.restype = ctypes.c_uint32
    return lib


def c_plan_error(lib: ctypes.CDLL, text: str) -> dict[str, Any]:
    """`istio_nomad_plan` of a spec that must fail: its error document."""
    data = text.encode()
    out = ctypes.c_void_p()
    err = ctypes.c_void_p()
    rc = lib.istio_nomad_plan(data, len(data), FORMAT_AUTO, ctypes.byref(out), ctypes.byref(err))
    try:
        assert rc != 0, "the C ABI planned a spec that should fail"
        assert not out.value
        doc: dict[str, Any] = json.loads(lib.istio_nomad_error_json(err))
        assert doc["code"] == rc
        return doc
    finally:
        lib.istio_nomad_error_free(ctypes.byref(err))
        lib.istio_nomad_string_free(ctypes.byref(out))


def py_plan_error(text: str) -> istio_nomad.MeshError:
    with pytest.raises(istio_nomad.MeshError) as ei:
        plan(MeshSpec.from_hcl(text) if not text.lstrip().startswith("{") else MeshSpec.from_json(text))
    return ei.value


BAD_PORT = BOOKINFO.read_text().replace("port = 9080", "port = 70000", 1)
SYNTAX = 'mesh "m" {\n  region = \n}\n'
UNKNOWN_KEY = 'mesh "m" {\n  regoin = "global"\n}\n'
JSON_TYPE = '{"mesh": {"name": "m", "datacenters": "dc1"}}'


@pytest.mark.parametrize(
    ("text", "family", "name"),
    [
        (BAD_PORT, "validation", "VALIDATION"),
        (SYNTAX, "parse", "PARSE"),
        (UNKNOWN_KEY, "parse", "PARSE"),
        (JSON_TYPE, "parse", "PARSE"),
    ],
    ids=["bad-port", "hcl-syntax", "unknown-key", "json-type"],
)
def test_error_reports_are_the_same_json(ffi: ctypes.CDLL, text: str, family: str, name: str) -> None:
    c = c_plan_error(ffi, text)
    e = py_plan_error(text)
    assert e.family == family
    assert (c["family"], c["name"]) == (family, name)
    c_report = {k: v for k, v in c.items() if k not in ("code", "name")}
    assert e.report == c_report
    assert e.report["message"] == str(e)
    if family == "validation" or text is UNKNOWN_KEY:
        assert e.report["fields"], "the report names the bad field"


def c_string(lib: ctypes.CDLL, rc: int, out: ctypes.c_void_p, err: ctypes.c_void_p) -> Any:
    try:
        assert rc == 0, json.loads(lib.istio_nomad_error_json(err))
        return json.loads(lib.istio_nomad_string_data(out))
    finally:
        lib.istio_nomad_error_free(ctypes.byref(err))
        lib.istio_nomad_string_free(ctypes.byref(out))


def without_timing(report: dict[str, Any]) -> dict[str, Any]:
    """An apply report without what depends on timing: its wall time, and each job's
    JobModifyIndex, which the in-memory Nomad's asynchronous scheduler assigns in the order its
    evaluations run (as Nomad's raft index does: nomad/job_endpoint.go Register)."""
    r = dict(report)
    assert isinstance(r.pop("elapsed_ms"), int)
    r["jobs"] = [{k: v for k, v in j.items() if k != "job_modify_index"} for j in r["jobs"]]
    return r


def test_diff_and_apply_report_are_the_same_json(ffi: ctypes.CDLL) -> None:
    text = BOOKINFO.read_text()
    data = text.encode()
    cluster = ctypes.c_void_p()
    err = ctypes.c_void_p()
    assert ffi.istio_nomad_cluster_in_memory(ctypes.byref(cluster), ctypes.byref(err)) == 0
    try:
        out, err = ctypes.c_void_p(), ctypes.c_void_p()
        rc = ffi.istio_nomad_diff(cluster, data, len(data), FORMAT_AUTO, None, None, ctypes.byref(out), ctypes.byref(err))
        c_diff = c_string(ffi, rc, out, err)
        options = b'{"lock_ttl_secs": 5}'
        out, err = ctypes.c_void_p(), ctypes.c_void_p()
        rc = ffi.istio_nomad_apply(
            cluster, data, len(data), FORMAT_AUTO, options, len(options), None, None, ctypes.byref(out), ctypes.byref(err)
        )
        c_apply = c_string(ffi, rc, out, err)
    finally:
        ffi.istio_nomad_cluster_free(ctypes.byref(cluster))

    spec = MeshSpec.from_hcl(text)
    py_cluster = istio_nomad.InMemoryCluster()
    py_diff = istio_nomad.diff(spec, in_memory=py_cluster)
    py_apply = istio_nomad.apply(spec, in_memory=py_cluster, lock_ttl=5)

    assert py_diff == c_diff
    assert py_diff["jobs"][0]["job_id"] == "bookinfo-etcd" and py_diff["in_sync"] is False
    assert without_timing(py_apply) == without_timing(c_apply)
    assert len(py_apply["created"]) == len(py_apply["jobs"]) == 10
