"""plan() and Plan: jobs, roles, dependency stages, files, and bad input."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

import istio_nomad
from istio_nomad import MeshSpec, Plan, plan

from conftest import GOLDEN


CONTROL_ROLES = {"etcd", "apiserver", "pilot", "mixer", "citadel", "zipkin"}


@pytest.fixture(scope="module")
def bookinfo_plan(bookinfo: MeshSpec) -> Plan:
    return plan(bookinfo)


def test_app_jobs(bookinfo_plan: Plan) -> None:
    apps = [pj for pj in bookinfo_plan.planned if pj.role == "app"]
    assert [pj.id for pj in apps] == ["productpage", "details", "reviews", "ratings"]
    reviews = bookinfo_plan.job("reviews")
    assert reviews is not None
    assert reviews.groups == ["reviews-v1", "reviews-v2", "reviews-v3"]
    d = reviews.to_dict()
    v2 = d["TaskGroups"][1]
    assert v2["Tasks"][0]["Config"]["image"] == "docker.io/istio/examples-bookinfo-reviews-v2:1.8.0"
    assert v2["Tasks"][0]["Env"] == {"SERVICE_VERSION": "v2"}
    assert v2["Services"][0]["Tags"] == ["version|v2"]
    assert v2["Services"][0]["Meta"] == {"protocol": "http"}
    assert v2["Networks"][0] == {
        "Mode": "bridge",
        "DNS": {"Searches": ["service.consul"]},
        "DynamicPorts": [{"Label": "http", "To": 9080}],
    }
    assert d["Meta"] == {"istio-nomad.mesh": "bookinfo", "istio-nomad.role": "app"}
    productpage = bookinfo_plan.job("productpage")
    assert productpage is not None
    assert productpage.to_dict()["TaskGroups"][0]["Count"] == 2
    assert bookinfo_plan.job("nope") is None


def test_bookinfo_stages_and_roles(bookinfo_plan: Plan) -> None:
    assert bookinfo_plan.order == [
        ["bookinfo-etcd", "bookinfo-zipkin"],
        ["bookinfo-apiserver"],
        ["bookinfo-citadel", "bookinfo-mixer", "bookinfo-pilot"],
        ["details", "productpage", "ratings", "reviews"],
    ]
    assert [(pj.id, pj.role, pj.depends_on) for pj in bookinfo_plan.planned[:6]] == [
        ("bookinfo-etcd", "etcd", []),
        ("bookinfo-apiserver", "apiserver", ["bookinfo-etcd"]),
        ("bookinfo-pilot", "pilot", ["bookinfo-apiserver"]),
        ("bookinfo-mixer", "mixer", ["bookinfo-apiserver"]),
        ("bookinfo-citadel", "citadel", ["bookinfo-apiserver"]),
        ("bookinfo-zipkin", "zipkin", []),
    ]


def test_jobs_and_planned_agree(bookinfo_plan: Plan) -> None:
    assert [j.id for j in bookinfo_plan.jobs] == [pj.id for pj in bookinfo_plan.planned]
    assert bookinfo_plan.jobs == [pj.job for pj in bookinfo_plan.planned]
    for pj in bookinfo_plan.planned:
        assert pj.role in CONTROL_ROLES | {"app"}
        assert repr(pj) == f'PlannedJob(id="{pj.id}", role="{pj.role}")'
        pj.job.validate()


def test_apps_wait_for_pilot_mixer_citadel(bookinfo_plan: Plan) -> None:
    gate = sorted(pj.id for pj in bookinfo_plan.planned if pj.role in {"pilot", "mixer", "citadel"})
    for pj in bookinfo_plan.planned:
        if pj.role == "app":
            assert sorted(pj.depends_on) == gate


def test_order_is_a_topological_staging(bookinfo_plan: Plan) -> None:
    order = bookinfo_plan.order
    flat = [j for stage in order for j in stage]
    assert sorted(flat) == sorted(j.id for j in bookinfo_plan.jobs)
    stage_of = {j: i for i, stage in enumerate(order) for j in stage}
    for pj in bookinfo_plan.planned:
        for dep in pj.depends_on:
            assert stage_of[dep] < stage_of[pj.id]
    for stage in order:
        assert stage == sorted(stage)
    assert order[-1] == ["details", "productpage", "ratings", "reviews"]


def test_spec_hash_is_sha256_of_canonical_spec_json(bookinfo: MeshSpec, bookinfo_plan: Plan) -> None:
    canonical = json.dumps(bookinfo.to_dict(), separators=(",", ":"), ensure_ascii=False)
    assert bookinfo_plan.spec_hash == hashlib.sha256(canonical.encode()).hexdigest()
    assert bookinfo_plan.spec == bookinfo
    assert repr(bookinfo_plan) == f'Plan(mesh="bookinfo", jobs={len(bookinfo_plan.jobs)}, spec_hash="{bookinfo_plan.spec_hash}")'


def test_iptables_and_vm_bundles_types(bookinfo_plan: Plan) -> None:
    golden = GOLDEN / "plan" / "bookinfo-ha" / "iptables"
    groups = [(r.job, r.group) for r in bookinfo_plan.iptables]
    assert groups == [
        ("productpage", "productpage"),
        ("details", "details"),
        ("reviews", "reviews-v1"),
        ("reviews", "reviews-v2"),
        ("reviews", "reviews-v3"),
        ("ratings", "ratings"),
    ]
    for r in bookinfo_plan.iptables:
        assert bookinfo_plan.job(r.job) is not None
        assert r.restore == (golden / f"{r.job}.{r.group}.rules").read_text()
        assert r.cleanup == (golden / f"{r.job}.{r.group}.cleanup.rules").read_text()
        assert r.restore_v6 is None and r.cleanup_v6 is None
    assert bookinfo_plan.vm_bundles == []


def test_ipv6_rules_files() -> None:
    spec = MeshSpec.from_dict(
        {
            "name": "m",
            "sidecar": {"intercept": {"ipv6": True}},
            "service": [{"name": "web", "image": "nginx:1.27", "port": [{"name": "http", "port": 8080}]}],
        }
    )
    p = plan(spec)
    [r] = p.iptables
    assert r.restore_v6 is not None and r.cleanup_v6 is not None
    assert r.restore_v6.startswith("*nat") and "::1/128" in r.restore_v6
    files = dict(p.files())
    assert files["iptables/web.web.v6.rules"] == r.restore_v6
    assert files["iptables/web.web.v6.cleanup.rules"] == r.cleanup_v6


def test_keyword_argument(bookinfo: MeshSpec) -> None:
    assert plan(spec=bookinfo).spec_hash == plan(bookinfo).spec_hash


@pytest.mark.parametrize("arg", [42, None, "bookinfo", {"name": "m"}, b"mesh"])
def test_plan_wrong_types(arg: Any) -> None:
    with pytest.raises(TypeError):
        plan(arg)


def test_files_and_write(bookinfo_plan: Plan, tmp_path: Path) -> None:
    files = bookinfo_plan.files()
    written = bookinfo_plan.write(tmp_path)
    assert written == [path for path, _ in files]
    for path, contents in files:
        assert (tmp_path / path).read_text() == contents
    for j in bookinfo_plan.jobs:
        assert f"jobs/{j.id}.nomad.hcl" in written
        assert json.loads((tmp_path / f"jobs/{j.id}.json").read_text()) == {"Job": j.to_dict()}
    assert bookinfo_plan.write(str(tmp_path / "again")) == written


def test_write_into_a_file_is_io_error(bookinfo_plan: Plan, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(istio_nomad.MeshIOError) as ei:
        bookinfo_plan.write(blocker)
    assert ei.value.op == "create directory"
    assert ei.value.family == "io"
