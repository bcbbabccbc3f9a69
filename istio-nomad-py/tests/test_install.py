"""diff, apply and destroy against the in-memory cluster (and an unreachable server)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

import istio_nomad
from istio_nomad import InMemoryCluster, MeshSpec, apply, destroy, diff, plan

ORDER = [
    ["bookinfo-etcd", "bookinfo-zipkin"],
    ["bookinfo-apiserver"],
    ["bookinfo-citadel", "bookinfo-mixer", "bookinfo-pilot"],
    ["details", "productpage", "ratings", "reviews"],
]
ALL = sorted(j for stage in ORDER for j in stage)
FAST: dict[str, Any] = {"health_deadline": 30.0, "query_wait": 1.0}


@pytest.fixture()
def cluster() -> InMemoryCluster:
    c = InMemoryCluster()
    c.set_progress_delay(0)
    return c


def test_apply_diff_destroy_round(bookinfo: MeshSpec, cluster: InMemoryCluster) -> None:
    before = diff(bookinfo, in_memory=cluster)
    assert before["in_sync"] is False
    assert [j["change"] for j in before["jobs"]] == ["create"] * 10
    assert before["stages"] == ORDER
    assert before["recorded_spec_hash"] is None

    events: list[dict[str, Any]] = []
    report = apply(bookinfo, in_memory=cluster, progress=events.append, **FAST)
    assert sorted(report["created"]) == ALL
    assert report["updated"] == report["unchanged"] == report["removed"] == []
    assert report["spec_hash"] == plan(bookinfo).spec_hash
    assert report["writes"]["registers"] == 10
    assert cluster.job_ids() == ALL
    assert events[0] == {"event": "started", "operation": "apply", "mesh": "bookinfo", "jobs": 10, "stages": 4}
    assert events[-1]["event"] == "finished"
    assert sorted(e["job"] for e in events if e["event"] == "job_registered") == ALL
    stages = [e["jobs"] for e in events if e["event"] == "stage_started"]
    assert [sorted(s) for s in stages] == ORDER

    after = diff(bookinfo, in_memory=cluster)
    assert after["in_sync"] is True
    assert {j["change"] for j in after["jobs"]} == {"unchanged"}
    assert after["recorded_spec_hash"] == report["spec_hash"]

    again = apply(plan(bookinfo), in_memory=cluster, **FAST)  # a Plan is accepted too
    assert sorted(again["unchanged"]) == ALL
    assert again["writes"]["total"] == 0

    gone = destroy(bookinfo, in_memory=cluster, **FAST)
    assert sorted(gone["deregistered"]) == ALL
    assert gone["deregistered"][-2:] in (["bookinfo-zipkin", "bookinfo-etcd"], ["bookinfo-etcd", "bookinfo-zipkin"])
    assert cluster.job_ids() == []


def test_fresh_in_memory_cluster(bookinfo: MeshSpec) -> None:
    report = apply(bookinfo, in_memory=True, **FAST)
    assert sorted(report["created"]) == ALL


def test_failed_deployment_is_install_error(bookinfo: MeshSpec, cluster: InMemoryCluster) -> None:
    cluster.fail_deployments("bookinfo-apiserver")
    with pytest.raises(istio_nomad.InstallError) as ei:
        apply(bookinfo, in_memory=cluster, **FAST)
    assert ei.value.family == "install"
    assert ei.value.job == "bookinfo-apiserver"
    assert "bookinfo-apiserver" in str(ei.value)


def test_unreachable_servers_are_backend_errors(bookinfo: MeshSpec) -> None:
    closed = "http://127.0.0.1:1"
    with pytest.raises(istio_nomad.BackendError) as ei:
        diff(bookinfo, nomad=closed, consul=closed, etcd=[closed])
    assert ei.value.family == "backend"
    assert ei.value.service in ("nomad", "consul", "etcd")
    assert ei.value.status is None


def test_progress_exception_is_raised_after_the_operation(bookinfo: MeshSpec, cluster: InMemoryCluster) -> None:
    def boom(event: dict[str, Any]) -> None:
        raise KeyError(event["event"])

    with pytest.raises(KeyError, match="started"):
        apply(bookinfo, in_memory=cluster, progress=boom, **FAST)
    assert cluster.job_ids() == ALL  # the apply itself completed


def test_gil_is_released_while_applying(bookinfo: MeshSpec, cluster: InMemoryCluster) -> None:
    """Another Python thread runs between two progress events of one apply."""
    cluster.set_progress_delay(0.05)
    count = 0
    done = threading.Event()

    def spin() -> None:
        nonlocal count
        while not done.is_set():
            count += 1

    seen: dict[str, int] = {}

    def progress(e: dict[str, Any]) -> None:
        if e["event"] == "stage_started":
            seen.setdefault(f"stage{e['stage']}", count)

    t = threading.Thread(target=spin)
    t.start()
    try:
        apply(bookinfo, in_memory=cluster, progress=progress, **FAST)
    finally:
        done.set()
        t.join()
    assert seen["stage4"] > seen["stage1"]


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"lock_ttl": 0.5}, "lock_ttl"),
        ({"health_deadline": -1.0}, "health_deadline"),
        ({"query_wait": float("nan")}, "query_wait"),
    ],
)
def test_bad_options_are_validation_errors(bookinfo: MeshSpec, kwargs: dict[str, Any], path: str) -> None:
    with pytest.raises(istio_nomad.ValidationError) as ei:
        apply(bookinfo, in_memory=True, **kwargs)
    assert [p for p, _ in ei.value.errors] == [path]


@pytest.mark.parametrize("fn", [diff, apply, destroy])
def test_wrong_types(fn: Any, bookinfo: MeshSpec) -> None:
    with pytest.raises(TypeError, match="expected a MeshSpec or a Plan, not 'int'"):
        fn(42, in_memory=True)
    with pytest.raises(TypeError):
        fn(bookinfo, in_memory="yes")
    with pytest.raises(TypeError):
        fn(bookinfo, in_memory=True, etcd="http://127.0.0.1:2379")
    with pytest.raises(ValueError, match='state_backend must be "etcd" or "consul"'):
        fn(bookinfo, in_memory=True, state_backend="zookeeper")


def test_cluster_repr_and_delay_validation(cluster: InMemoryCluster) -> None:
    assert repr(cluster) == "InMemoryCluster(jobs=0)"
    assert cluster.service_ids() == []
    with pytest.raises(istio_nomad.ValidationError):
        cluster.set_progress_delay(-1.0)


def test_async_variants(bookinfo: MeshSpec, cluster: InMemoryCluster) -> None:
    async def main() -> tuple[Any, Any, Any]:
        report = await istio_nomad.apply_async(bookinfo, in_memory=cluster, **FAST)
        d = await istio_nomad.diff_async(bookinfo, in_memory=cluster)
        gone = await istio_nomad.destroy_async(bookinfo, in_memory=cluster, **FAST)
        return report, d, gone

    report, d, gone = asyncio.run(main())
    assert sorted(report["created"]) == ALL
    assert d["in_sync"] is True
    assert sorted(gone["deregistered"]) == ALL


def test_second_operator_gets_conflict_error(bookinfo: MeshSpec, cluster: InMemoryCluster) -> None:
    """While one apply holds the mesh lock, a second one fails with ConflictError."""
    cluster.set_progress_delay(0.05)
    locked = threading.Event()
    result: dict[str, Any] = {}

    def first() -> None:
        def progress(e: dict[str, Any]) -> None:
            if e["event"] == "lock_acquired":
                locked.set()

        result["report"] = apply(bookinfo, in_memory=cluster, progress=progress, holder="first", **FAST)

    t = threading.Thread(target=first)
    t.start()
    try:
        assert locked.wait(30)
        with pytest.raises(istio_nomad.ConflictError) as ei:
            apply(bookinfo, in_memory=cluster, holder="second", **FAST)
        assert ei.value.family == "conflict"
        assert ei.value.kind == "lock_held"
        assert ei.value.subject == "bookinfo"
        assert "first" in str(ei.value)
    finally:
        t.join()
    assert sorted(result["report"]["created"]) == ALL


def test_http_status_reaches_backend_error(bookinfo: MeshSpec) -> None:
    """A local HTTP server (Python's, in a thread) that refuses every request with 403:
    the error says which server and the status. The server can only answer because the
    call runs with the GIL released."""
    import http.server

    class Refuse(http.server.BaseHTTPRequestHandler):
        def _refuse(self) -> None:
            body = b"Permission denied"
            self.send_response(403)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = _refuse

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with pytest.raises(istio_nomad.BackendError) as ei:
            diff(bookinfo, nomad=url, consul=url, etcd=[url])
    finally:
        server.shutdown()
        server.server_close()
        t.join()
    assert ei.value.status == 403
    assert ei.value.service in ("nomad", "consul", "etcd")
    assert "403" in str(ei.value)
