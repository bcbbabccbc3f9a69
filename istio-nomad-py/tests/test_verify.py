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
    # Istio 1.3 dials ADS at the discovery address as given; 15007 is Pilot's HTTP port.
    d["istio_version"] = "1.3.8"
    d.setdefault("sidecar", {})["pilot_address"] = "bookinfo-pilot.service.consul:15007"
    spec = MeshSpec.from_dict(d)
    with pytest.raises(istio_nomad.ValidationError) as e:
        plan(spec)
    assert e.value.errors[0][0] == "job[details].group[details].task[istio-proxy].config.args"
    assert e.value.errors[0][1].startswith("[ads-port]")
    unverified = plan(spec, verify=False)
    report = verify(unverified)
    assert report.has_errors
    f = report.findings[0]
    assert (f.severity, f.kind) == ("error", "ads-port")
    assert "Pilot serves ADS on 15010" in f.message


def test_a_release_without_the_consul_registry_is_refused(bookinfo: MeshSpec) -> None:
    d = bookinfo.to_dict()
    d["istio_version"] = "1.8.0"
    with pytest.raises(istio_nomad.ValidationError) as e:
        MeshSpec.from_dict(d)
    assert e.value.errors[0][0] == "mesh.istio_version"
    assert "1.0.x to 1.7.x" in e.value.errors[0][1]


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
    # One node: the bridge addresses cannot collide, and injection gave every meshed group
    # the service.consul search domain: nothing to report.
    assert [(f.severity, f.kind, f.path) for f in live.findings] == []


def test_verify_live_needs_a_cluster(bookinfo: MeshSpec, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("NOMAD_ADDR", "CONSUL_HTTP_ADDR", "ETCDCTL_ENDPOINTS"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(istio_nomad.ValidationError) as e:
        istio_nomad.verify_live(bookinfo)
    assert e.value.errors[0][0] == "verify_live"
    assert "no live cluster to read" in e.value.errors[0][1]
    with pytest.raises(TypeError, match="in_memory must be an InMemoryCluster"):
        istio_nomad.verify_live(bookinfo, in_memory=True)  # type: ignore[arg-type]
