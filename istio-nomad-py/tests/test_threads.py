"""Several Python threads planning and rendering at once get the single-threaded answer."""

from __future__ import annotations

import threading
from typing import Any

import istio_nomad
from istio_nomad import MeshSpec


def render(spec: MeshSpec) -> Any:
    p = istio_nomad.plan(spec)
    return (p.spec_hash, p.order, [(j.id, j.to_json(), j.to_register_json()) for j in p.jobs])


def test_concurrent_plans(bookinfo: MeshSpec, bookinfo_text: str) -> None:
    expected = render(bookinfo)
    results: list[Any] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def worker(n: int) -> None:
        try:
            start.wait()
            for i in range(25):
                # Half the threads parse their own spec, half share one object.
                spec = MeshSpec.from_hcl(bookinfo_text) if (n + i) % 2 else bookinfo
                r = render(spec)
                with lock:
                    results.append(r)
        except BaseException as e:  # collected and re-raised by the main thread
            with lock:
                errors.append(e)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(results) == 8 * 25
    assert all(r == expected for r in results)


def test_errors_from_many_threads_keep_their_fields() -> None:
    bad = {"name": "m", "service": [{"name": "web", "image": "nginx", "port": [{"name": "http", "port": 0}]}]}
    seen: list[Any] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(20):
            try:
                MeshSpec.from_dict(bad)
            except istio_nomad.ValidationError as e:
                with lock:
                    seen.append(e.errors)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == [[("mesh.service[web].port[http].port", "a port must be between 1 and 65535")]] * 120
