"""inject() and remove_sidecar(): the Istio proxy added to a Nomad job and taken out again."""

from __future__ import annotations

import json
from typing import Any

import pytest

import istio_nomad
from istio_nomad import InterceptConfig, Job, MeshSpec, inject, plan, remove_sidecar

from conftest import BOOKINFO, GOLDEN, shared_data

WEB: dict[str, Any] = {
    "ID": "web",
    "Name": "web",
    "Datacenters": ["dc1"],
    "TaskGroups": [
        {
            "Name": "api",
            "Networks": [{"Mode": "bridge", "DynamicPorts": [{"Label": "http", "To": 8080}]}],
            "Services": [{"Name": "web", "PortLabel": "http"}],
            "Tasks": [{"Name": "app", "Driver": "docker", "Config": {"image": "nginx:1.27"}}],
        }
    ],
}


def task_names(job: Job, group: int = 0) -> list[str]:
    return [t["Name"] for t in job.to_dict()["TaskGroups"][group]["Tasks"]]


def test_inject_and_remove_the_api_example_job() -> None:
    data = shared_data()
    assert data is not None
    original = Job.from_file(data / "nomad-api-example-job.json")
    # Its service is kept in Nomad's own catalog, which Pilot never reads: refused, by path.
    with pytest.raises(istio_nomad.ValidationError) as e:
        inject(original, mesh="bookinfo")
    [(path, message)] = e.value.errors
    assert path == "job[example].group[cache].service[0].provider"
    assert message.startswith("Pilot reads Consul's catalog")
    assert message.endswith('set provider = "consul" (or remove it)')
    d = original.to_dict()
    d["TaskGroups"][0]["Services"][0]["Provider"] = "consul"
    job = Job.from_dict(d)
    meshed = inject(job, mesh="bookinfo")
    assert task_names(meshed) == ["redis", "istio-init", "istio-proxy", "istio-ready"]
    g = meshed.to_dict()["TaskGroups"][0]
    assert g["Networks"][0]["Mode"] == "bridge"
    port = g["Networks"][0]["DynamicPorts"][0]
    assert (port["Label"], port["To"]) == ("db", 6379)
    assert g["Networks"][0]["DNS"]["Searches"] == ["service.consul"]
    proxy = next(t for t in g["Tasks"] if t["Name"] == "istio-proxy")
    assert proxy["Config"]["args"] == [
        "proxy", "--serviceregistry", "Consul", "--serviceCluster", "redis-cache",
        "--discoveryAddress", "bookinfo-pilot-grpc.service.consul:15010",
        "--proxyAdminPort", "15000", "--configPath", "/var/lib/istio",
    ]
    assert proxy["User"] == "1337"
    assert g["Meta"]["istio-nomad.injected"] == "true"
    assert inject(meshed, mesh="bookinfo") == meshed  # twice equals once
    assert remove_sidecar(meshed) == job
    assert remove_sidecar(job) == job  # nothing injected: unchanged
    meshed.validate()


def test_options_reach_the_tasks() -> None:
    job = Job.from_dict(WEB)
    meshed = inject(
        job,
        mesh="shop",
        istio_version="1.0.3",
        readiness_gate=False,
        zipkin_address="zipkin.service.consul:9411",
        intercept=InterceptConfig(exclude_inbound_ports=[9901]),
        version="v2",
        protocol="grpc",
    )
    assert task_names(meshed) == ["app", "istio-init", "istio-proxy"]
    g = meshed.to_dict()["TaskGroups"][0]
    assert g["Services"][0]["Tags"] == ["version|v2"]
    assert g["Services"][0]["Meta"] == {"protocol": "grpc"}
    proxy = next(t for t in g["Tasks"] if t["Name"] == "istio-proxy")
    assert proxy["Config"]["image"] == "docker.io/istio/proxy_debug:1.0.3"
    assert "--zipkinAddress" in proxy["Config"]["args"]
    assert remove_sidecar(meshed) == job


def test_host_mode() -> None:
    host = json.loads(json.dumps(WEB))
    host["TaskGroups"][0]["Networks"][0]["Mode"] = "host"
    job = Job.from_dict(host)
    meshed = inject(job, mesh="shop", mode="host")
    g = meshed.to_dict()["TaskGroups"][0]
    assert g["Meta"]["istio-nomad.host-mode"] == "true"
    assert remove_sidecar(meshed) == job
    with pytest.raises(istio_nomad.ValidationError) as ei:
        inject(Job.from_dict(WEB), mesh="shop", mode="host")
    assert [p for p, _ in ei.value.errors] == ["job[web].group[api].network[0].mode"]


def test_opt_in_selection_leaves_unmarked_groups() -> None:
    job = Job.from_dict(WEB)
    assert inject(job, mesh="shop", selection="opt_in") == job


def test_plan_app_jobs_are_inject_of_the_plain_job() -> None:
    """Removing the sidecar from a planned app job and injecting it again from Python with
    the spec's settings gives the planned job back (read through HCL, which fills in the
    template defaults the plan's jobs carry)."""
    p = plan(MeshSpec.from_file(BOOKINFO))
    for pj in p.planned:
        if pj.role != "app":
            continue
        plain = remove_sidecar(pj.job)
        assert "istio-proxy" not in task_names(plain)
        again = inject(
            plain,
            mesh="bookinfo",
            hub="docker.io/istio",
            istio_version="1.0.0",
            zipkin_address="bookinfo-zipkin.service.consul:9411",
        )
        assert Job.from_hcl(again.to_hcl()) == pj.job


@pytest.mark.parametrize("job_id", ["productpage", "details", "reviews", "ratings"])
def test_injected_bookinfo_jobs_equal_core_golden_files(job_id: str) -> None:
    job = plan(MeshSpec.from_file(BOOKINFO)).job(job_id)
    assert job is not None
    golden = GOLDEN / "sidecar" / "bookinfo"
    assert job.to_json() + "\n" == (golden / f"{job_id}.json").read_text()
    assert job.to_hcl() == (golden / f"{job_id}.nomad.hcl").read_text()


def test_bookinfo_rules_files_equal_core_golden_files() -> None:
    p = plan(MeshSpec.from_file(BOOKINFO))
    assert [f"{r.job}.{r.group}" for r in p.iptables] == [
        "productpage.productpage", "details.details", "reviews.reviews-v1",
        "reviews.reviews-v2", "reviews.reviews-v3", "ratings.ratings",
    ]
    golden = GOLDEN / "sidecar" / "bookinfo"
    assert p.iptables[0].restore == (golden / "iptables.rules").read_text()
    assert p.iptables[0].cleanup == (golden / "iptables.cleanup.rules").read_text()
    assert repr(p.iptables[0]) == 'RulesFile(job="productpage", group="productpage")'


VM_SPEC = """
mesh "shop" {
  sidecar {
    zipkin_address = "zipkin.service.consul:9411"
    intercept {
      outbound_cidrs = ["10.0.0.0/8"]
    }
  }
  service "legacy-db" {
    image      = "mysql:5.7"
    vm         = true
    vm_address = "10.0.0.5"
    port "mysql" {
      port     = 3306
      protocol = "mysql"
    }
  }
}
"""


def test_vm_bundle_equals_core_golden_files() -> None:
    p = plan(MeshSpec.from_hcl(VM_SPEC))
    assert [j.id for j in p.jobs if j.id == "legacy-db"] == []
    assert len(p.vm_bundles) == 1
    b = p.vm_bundles[0]
    assert b.service == "legacy-db"
    assert sorted(b.files) == [
        "cluster.env", "consul-service.json", "istio-iptables.cleanup.rules", "istio-iptables.rules",
        "istio.service", "sidecar.env",
    ]
    for name, text in b.files.items():
        assert text == (GOLDEN / "sidecar" / "vm" / "legacy-db" / name).read_text(), name
    # The rules of the bundle are what IptablesPlan renders for the env files' settings.
    env: dict[str, str] = {}
    for f in ("sidecar.env", "cluster.env"):
        for line in b.files[f].splitlines():
            if line and not line.startswith("#"):
                k, v = line.split("=", 1)
                env[k] = v.strip("'\"")
    cfg = InterceptConfig.from_dict({**InterceptConfig.from_env(env).to_dict(), "bypass_root": True})
    assert cfg.plan().restore() == b.files["istio-iptables.rules"]
    assert repr(b) == "VmBundle(service=\"legacy-db\", files=[" + ", ".join(f'"{n}"' for n in sorted(b.files)) + "])"


# --- bad input ------------------------------------------------------------------------------


def test_connect_sidecar_is_refused_unless_replaced() -> None:
    data = shared_data()
    assert data is not None
    job = Job.from_file(data / "jobs" / "countdash-tproxy.nomad.hcl")
    with pytest.raises(istio_nomad.ValidationError) as ei:
        inject(job, mesh="bookinfo")
    assert [p for p, _ in ei.value.errors] == [
        "job[countdash].group[api].service[0].connect.sidecar_service",
        "job[countdash].group[dashboard].service[0].connect.sidecar_service",
    ]
    meshed = inject(job, mesh="bookinfo", replace_connect=True)
    assert "istio-proxy" in task_names(meshed)
    assert remove_sidecar(meshed) == job


@pytest.mark.parametrize(
    ("kwargs", "path", "message"),
    [
        ({"mode": "bogus"}, "sidecar.mode", "unknown variant `bogus`, expected `bridge` or `host`"),
        ({"selection": "all"}, "selection", "unknown variant `all`, expected `with_services` or `opt_in`"),
        ({"ready_timeout": -1}, "sidecar.ready_timeout", "invalid value: integer `-1`, expected u32"),
    ],
)
def test_values_of_the_wrong_shape(kwargs: dict[str, Any], path: str, message: str) -> None:
    with pytest.raises(istio_nomad.SpecError) as ei:
        inject(Job.from_dict(WEB), mesh="shop", **kwargs)
    assert ei.value.path == path
    assert message in str(ei.value)


def test_broken_options_are_validation_errors() -> None:
    with pytest.raises(istio_nomad.ValidationError) as ei:
        inject(Job.from_dict(WEB), mesh="Bad Mesh!", cpu=0)
    assert [p for p, _ in ei.value.errors] == ["sidecar.mesh", "sidecar.cpu"]


def test_invalid_job_reports_nomads_errors() -> None:
    bad = json.loads(json.dumps(WEB))
    bad["TaskGroups"][0]["Services"][0]["PortLabel"] = "https"
    with pytest.raises(istio_nomad.ValidationError) as ei:
        inject(Job.from_dict(bad), mesh="shop")
    assert ei.value.errors == [("job[web].group[api].service[0].port", "the port label is not defined in the group's network")]


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((42,), {"mesh": "m"}),
        ((None,), {"mesh": "m"}),
        ((), {"mesh": "m"}),
        (("job",), {}),
        (("job",), {"mesh": 5}),
        (("job",), {"mesh": "m", "intercept": {"proxy_port": 1}}),
        (("job",), {"mesh": "m", "cpu": "100"}),
        (("job",), {"mesh": "m", "bogus": True}),
    ],
)
def test_wrong_python_types(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    args = tuple(Job.from_dict(WEB) if a == "job" else a for a in args)
    with pytest.raises(TypeError):
        inject(*args, **kwargs)


def test_remove_sidecar_wrong_type() -> None:
    with pytest.raises(TypeError):
        remove_sidecar(WEB)  # type: ignore[arg-type]
