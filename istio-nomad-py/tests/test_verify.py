"""verify(): the data-path check from Python, and plan() refusing what it finds."""

from __future__ import annotations

import json

import pytest

import istio_nomad
from istio_nomad import MeshSpec, plan, verify


def test_bookinfo_carries_traffic(bookinfo: MeshSpec) -> None:
    report = verify(plan(bookinfo))
    assert report.mode == "predicted"
    assert report.istio_version == "1.0.0"
    assert not report.has_errors
    assert all(f.severity == "warning" for f in report.findings)
    assert {f.kind for f in report.findings} <= {"unresolvable", "unreachable"}
    # The spec form gives the same report.
    assert [f.path for f in verify(bookinfo).findings] == [f.path for f in report.findings]
    doc = json.loads(report.to_json())
    reviews = [r for r in doc["registrations"] if r["group"] == "reviews-v1"]
    assert reviews[0]["endpoint"] == {
        "address": {"source": "allocation"},
        "port": {"source": "fixed", "value": 9080},
    }


def test_plan_refuses_and_verify_explains(bookinfo: MeshSpec) -> None:
    d = bookinfo.to_dict()
    d["istio_version"] = "1.8.0"
    spec = MeshSpec.from_dict(d)
    with pytest.raises(istio_nomad.ValidationError) as e:
        plan(spec)
    assert e.value.errors[0][0] == "mesh.istio_version"
    assert e.value.errors[0][1].startswith("[unsupported-version]")
    unverified = plan(spec, verify=False)
    report = verify(unverified)
    assert report.has_errors
    f = report.findings[0]
    assert (f.severity, f.kind, f.path) == ("error", "unsupported-version", "mesh.istio_version")
    assert "Consul service registry" in f.message


def test_verify_refuses_other_types() -> None:
    with pytest.raises(TypeError, match="expected a MeshSpec or a Plan, not 'int'"):
        verify(42)  # type: ignore[arg-type]


def test_inject_on_a_cni_network() -> None:
    job = istio_nomad.Job.from_hcl(
        'job "web" {\n'
        '  datacenters = ["dc1"]\n'
        '  group "web" {\n'
        '    network {\n'
        '      port "http" { to = 8080 }\n'
        "    }\n"
        '    service {\n      name = "web"\n      port = "http"\n    }\n'
        '    task "app" {\n      driver = "docker"\n      config { image = "nginx:1.27" }\n    }\n'
        "  }\n"
        "}\n"
    )
    out = istio_nomad.inject(job, mesh="m", cni_network="mesh").to_dict()
    g = out["TaskGroups"][0]
    assert g["Networks"][0]["Mode"] == "cni/mesh"
    assert g["Services"][0]["AddressMode"] == "alloc"


def test_verify_live_reads_the_in_memory_cluster(bookinfo: MeshSpec) -> None:
    cluster = istio_nomad.InMemoryCluster()
    # Nothing applied yet: no meshed service and no Pilot in the catalog.
    empty = istio_nomad.verify_live(bookinfo, in_memory=cluster)
    assert (empty.mode, empty.source) == ("live", "an in-memory cluster")
    assert empty.has_errors
    errors = {(f.kind, f.path) for f in empty.findings if f.severity == "error"}
    groups = [
        ("details", "details"),
        ("productpage", "productpage"),
        ("ratings", "ratings"),
        ("reviews", "reviews-v1"),
        ("reviews", "reviews-v2"),
        ("reviews", "reviews-v3"),
    ]
    assert errors == {
        ("unresolvable", f"job[{j}].group[{g}].task[istio-proxy].config.args") for j, g in groups
    }
    not_registered = sorted(f.path for f in empty.findings if f.kind == "not-registered")
    assert not_registered == sorted(f"job[{j}].group[{g}].service[0]" for j, g in groups)

    istio_nomad.apply(bookinfo, in_memory=cluster)
    live = istio_nomad.verify_live(plan(bookinfo), in_memory=cluster)
    assert not live.has_errors, str(live)
    # One node: the bridge addresses cannot collide, so only the DNS search warnings stay.
    assert [(f.severity, f.kind, f.path) for f in live.findings] == [
        ("warning", "unresolvable", f"job[{j}].group[{g}].network[0].dns") for j, g in groups
    ]


def test_verify_live_needs_a_cluster(bookinfo: MeshSpec, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("NOMAD_ADDR", "CONSUL_HTTP_ADDR", "ETCDCTL_ENDPOINTS"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(istio_nomad.ValidationError) as e:
        istio_nomad.verify_live(bookinfo)
    assert e.value.errors[0][0] == "verify_live"
    assert "no live cluster to read" in e.value.errors[0][1]
    with pytest.raises(TypeError, match="in_memory must be an InMemoryCluster"):
        istio_nomad.verify_live(bookinfo, in_memory=True)  # type: ignore[arg-type]
