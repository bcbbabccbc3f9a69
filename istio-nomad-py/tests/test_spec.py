"""MeshSpec: parsing, validation, conversion, and every kind of bad input."""

from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path
from typing import Any

import pytest

import istio_nomad
from istio_nomad import MeshSpec

from conftest import BOOKINFO, BROKEN

MINIMAL_HCL = """
mesh "m" {
  service "web" {
    image = "nginx:1.27"
    port "http" { port = 80 }
  }
}
"""


def minimal_dict(**service: Any) -> dict[str, Any]:
    web: dict[str, Any] = {"name": "web", "image": "nginx:1.27", "port": [{"name": "http", "port": 80}]}
    web.update(service)
    return {"name": "m", "service": [web]}


def test_from_hcl_bookinfo(bookinfo: MeshSpec) -> None:
    assert bookinfo.name == "bookinfo"
    assert bookinfo.services == ["productpage", "details", "reviews", "ratings"]
    d = bookinfo.to_dict()
    assert d["region"] == "global"
    assert d["datacenters"] == ["dc1"]
    assert d["control_plane"]["profile"] == "ha"
    reviews = d["service"][2]
    assert [v["name"] for v in reviews["versions"]] == ["v1", "v2", "v3"]
    assert reviews["versions"][1]["image"] == "docker.io/istio/examples-bookinfo-reviews-v2:1.8.0"
    assert d["service"][0]["count"] == 2
    assert d["service"][0]["port"] == [{"name": "http", "port": 9080}]


def test_defaults_filled_in() -> None:
    d = MeshSpec.from_hcl(MINIMAL_HCL).to_dict()
    # The control-plane settings have their own tests in the core; the profile defaults to ha.
    assert d.pop("control_plane")["profile"] == "ha"
    # The sidecar block defaults to injection with Istio's interception defaults.
    sidecar = d.pop("sidecar")
    assert (sidecar["enabled"], sidecar["mode"]) == (True, "bridge")
    assert sidecar["intercept"] == istio_nomad.InterceptConfig().to_dict()
    assert d == {
        "name": "m",
        "region": "global",
        "datacenters": ["dc1"],
        "namespace": "default",
        "istio_version": "1.0.0",
        "hub": "docker.io/istio",
        "service": [
            {
                "name": "web",
                "image": "nginx:1.27",
                "count": 1,
                "protocol": "http",
                "port": [{"name": "http", "port": 80}],
                "cpu": 100,
                "memory": 128,
                "vm": False,
            }
        ],
    }


def test_round_trips(bookinfo: MeshSpec) -> None:
    d = bookinfo.to_dict()
    assert MeshSpec.from_dict(d) == bookinfo
    assert MeshSpec.from_json(json.dumps(d)) == bookinfo
    assert MeshSpec.from_json(json.dumps({"mesh": d})) == bookinfo
    assert MeshSpec.from_file(BOOKINFO) == bookinfo
    assert MeshSpec.from_file(str(BOOKINFO)) == bookinfo
    assert bookinfo != MeshSpec.from_hcl(MINIMAL_HCL)
    assert bookinfo != "bookinfo"


def test_from_dict_accepts_tuples_and_mappings() -> None:
    d = minimal_dict()
    d["datacenters"] = ("dc1", "dc2")
    spec = MeshSpec.from_dict(OrderedDict(d))
    assert spec.to_dict()["datacenters"] == ["dc1", "dc2"]


def test_from_file_json(tmp_path: Path) -> None:
    p = tmp_path / "m.json"
    p.write_text(json.dumps({"mesh": minimal_dict()}))
    assert MeshSpec.from_file(p) == MeshSpec.from_hcl(MINIMAL_HCL)


def test_repr(bookinfo: MeshSpec) -> None:
    assert repr(bookinfo) == 'MeshSpec(name="bookinfo", services=4)'


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize("fn", [MeshSpec.from_hcl, MeshSpec.from_json, MeshSpec.from_dict, MeshSpec.from_file])
@pytest.mark.parametrize("arg", [42, None, 3.5, ["mesh"]])
def test_wrong_python_types_raise_type_error(fn: Any, arg: Any) -> None:
    with pytest.raises(TypeError):
        fn(arg)


def test_bytes_is_not_text() -> None:
    with pytest.raises(TypeError):
        MeshSpec.from_hcl(MINIMAL_HCL.encode())  # type: ignore[arg-type]


def test_from_dict_wrong_type_message() -> None:
    with pytest.raises(TypeError, match=r"^a mesh spec must be a dict, not 'list'$"):
        MeshSpec.from_dict([1, 2])  # type: ignore[arg-type]


def test_invalid_hcl() -> None:
    with pytest.raises(istio_nomad.SpecError) as ei:
        MeshSpec.from_hcl('mesh "m" {\n  service "web" {\n    image = \n}')
    e = ei.value
    assert e.family == "parse"
    assert e.format == "hcl"
    assert e.line is not None and e.line >= 3
    assert str(e).startswith("invalid HCL at line ")


def test_invalid_json() -> None:
    with pytest.raises(istio_nomad.SpecError) as ei:
        MeshSpec.from_json('{"mesh": {"name": "m",')
    assert ei.value.format == "json"
    assert ei.value.line == 1
    assert "EOF while parsing" in str(ei.value)


def test_wrong_value_type_names_path_and_line() -> None:
    with pytest.raises(istio_nomad.SpecError) as ei:
        MeshSpec.from_file(BROKEN / "spec-wrong-type.mesh.hcl")
    e = ei.value
    assert (e.path, e.line, e.format) == ("mesh.service[0].count", 4, "hcl")
    assert str(e) == 'invalid HCL at line 4 in mesh.service[0].count: invalid type: string "three", expected i64'


def test_wrong_value_type_in_dict() -> None:
    with pytest.raises(istio_nomad.SpecError) as ei:
        MeshSpec.from_dict(minimal_dict(count="three"))
    assert ei.value.path == "mesh.service[0].count"
    assert ei.value.line is None


def test_validation_errors_exact_paths() -> None:
    with pytest.raises(istio_nomad.ValidationError) as ei:
        MeshSpec.from_dict(minimal_dict(count=-1, port=[{"name": "http", "port": 70000}]))
    e = ei.value
    assert e.family == "validation"
    assert e.errors == [
        ("mesh.service[web].count", "count may not be negative"),
        ("mesh.service[web].port[http].port", "a port must be between 1 and 65535"),
    ]
    assert str(e) == (
        "2 validation problems\n"
        '  - mesh.service[web].count: count may not be negative (got "-1")\n'
        '  - mesh.service[web].port[http].port: a port must be between 1 and 65535 (got "70000")'
    )


def test_validation_errors_from_hcl_carry_lines() -> None:
    with pytest.raises(istio_nomad.ValidationError) as ei:
        MeshSpec.from_file(BROKEN / "spec-bad-port.mesh.hcl")
    assert ei.value.errors == [("mesh.service[web].port[http].port", "a port must be between 1 and 65535 (line 5)")]


def test_non_string_keys() -> None:
    with pytest.raises(istio_nomad.SpecError) as ei:
        MeshSpec.from_dict({"name": "m", 1: "x"})  # type: ignore[dict-item]
    assert ei.value.path == "mesh"
    assert str(ei.value) == "invalid value in mesh: dict keys must be strings, got int 1"
    with pytest.raises(istio_nomad.SpecError) as ei:
        MeshSpec.from_dict(minimal_dict(env={("a", "b"): "x"}))
    assert ei.value.path == "mesh.service[0].env"
    assert ei.value.format == "python"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"dc1"}, "a value of type 'set' cannot be read"),
        (b"dc1", "a value of type 'bytes' cannot be read"),
        (float("nan"), "the float NaN is not a finite number"),
        (float("inf"), "the float inf is not a finite number"),
        (2**64, "the integer 18446744073709551616 does not fit in 64 bits"),
        (object(), "a value of type 'object' cannot be read"),
    ],
)
def test_unreadable_values(value: Any, message: str) -> None:
    d = minimal_dict()
    d["datacenters"] = value
    with pytest.raises(istio_nomad.SpecError, match=message) as ei:
        MeshSpec.from_dict(d)
    assert ei.value.path == "mesh.datacenters"


def test_self_referencing_dict_is_an_error_not_a_crash() -> None:
    d: dict[str, Any] = minimal_dict()
    d["control_plane"] = d
    with pytest.raises(istio_nomad.SpecError, match="nested deeper than 128 levels"):
        MeshSpec.from_dict(d)


def test_lone_surrogate() -> None:
    with pytest.raises(istio_nomad.SpecError, match="not valid Unicode"):
        MeshSpec.from_hcl('mesh "m\ud800" {}')
    with pytest.raises(istio_nomad.SpecError, match="not valid Unicode") as ei:
        MeshSpec.from_dict({"name": "m\udc00"})
    assert ei.value.path == "mesh.name"


def test_huge_strings() -> None:
    huge = "a" * 10_000_000
    with pytest.raises(istio_nomad.SpecError, match="the spec is 10000000 bytes; the limit is 4194304"):
        MeshSpec.from_hcl(huge)
    with pytest.raises(istio_nomad.SpecError, match="the spec is 10000009 bytes; the limit is 4194304"):
        MeshSpec.from_json(json.dumps({"x": huge}))
    # A 10 MB value inside a dict is read, then refused by the name rule.
    with pytest.raises(istio_nomad.ValidationError) as ei:
        MeshSpec.from_dict({"name": huge})
    assert [p for p, _ in ei.value.errors] == ["mesh.name"]


def test_missing_file_is_io_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.mesh.hcl"
    with pytest.raises(istio_nomad.MeshIOError) as ei:
        MeshSpec.from_file(missing)
    e = ei.value
    assert isinstance(e, OSError)
    assert isinstance(e, istio_nomad.MeshError)
    assert (e.family, e.op, e.errno, e.filename) == ("io", "read", 2, str(missing))
    assert str(e) == f"[Errno 2] cannot read: No such file or directory (os error 2): '{missing}'"


def read_expected() -> list[tuple[str, str, str]]:
    rows = []
    for line in (BROKEN / "EXPECTED").read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        f, family, text = (c.strip() for c in line.split("|", 2))
        rows.append((f, family, text))
    return rows


FAMILY_CLASS = {"parse": istio_nomad.SpecError, "validation": istio_nomad.ValidationError}


@pytest.mark.parametrize(("name", "family", "text"), [r for r in read_expected() if r[0].startswith("spec-")])
def test_broken_spec_corpus(name: str, family: str, text: str) -> None:
    """Every broken spec of the core's corpus raises the class of its family, naming the field."""
    with pytest.raises(FAMILY_CLASS[family]) as ei:
        MeshSpec.from_file(BROKEN / name)
    assert ei.value.family == family
    assert text in str(ei.value)
    if family == "validation":
        assert all(isinstance(p, str) and isinstance(m, str) for p, m in ei.value.errors)
        assert any(p == text for p, _ in ei.value.errors)
