"""istio_nomad: an Istio service mesh on HashiCorp Nomad, Consul and etcd, from Python.

The data flows one way: spec -> plan -> render / apply::

    import istio_nomad

    spec = istio_nomad.MeshSpec.from_file("examples/bookinfo.mesh.hcl")  # parsed and validated once
    plan = istio_nomad.plan(spec)                                      # pure data, no I/O
    for stage in plan.order:
        print(", ".join(stage))
    plan.write("out/bookinfo")                                          # HCL, JSON, rules files

    report = istio_nomad.apply(spec, in_memory=True)                    # or nomad=..., consul=..., etcd=[...]
    print(report["created"])

    findings = istio_nomad.verify(plan).findings                      # would it carry traffic?
    live = istio_nomad.verify_live(plan, nomad="http://nomad:4646", consul="http://consul:8500")

    rules = istio_nomad.InterceptConfig(inbound_ports=[9080]).plan()
    print(rules.restore())                                              # iptables-restore input

Blocking calls (``plan``, rendering, ``diff``/``apply``/``destroy``) release the GIL; the
``*_async`` variants run them in a worker thread for asyncio code.

Errors derive from :class:`MeshError`, one subclass per family: :class:`SpecError` (text or
values that cannot be read), :class:`ValidationError` (``.errors`` lists ``(path, message)``),
:class:`IptablesError`, :class:`BackendError` (``.status``, ``.service``),
:class:`ConflictError` (``.kind``, ``.subject``), :class:`InstallError` (``.job``),
:class:`MeshIOError` (also an :class:`OSError`) and :class:`EncodeError` (``.what``). An argument of the wrong Python type (``plan(42)``) raises
:class:`TypeError`, and an unknown choice (``restore("v4")``) :class:`ValueError`, as Python
functions do.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Union

from ._istio_nomad import (
    BackendError,
    ConflictError,
    EncodeError,
    InMemoryCluster,
    InstallError,
    InterceptConfig,
    IptablesError,
    IptablesPlan,
    Job,
    MeshError,
    MeshIOError,
    MeshSpec,
    Plan,
    PlannedJob,
    RulesFile,
    SpecError,
    ValidationError,
    VmBundle,
    Finding,
    VerifyReport,
    __version__,
    apply,
    destroy,
    diff,
    inject,
    plan,
    remove_sidecar,
    verify,
    verify_live,
)

if TYPE_CHECKING:
    from ._istio_nomad import _ApplyReport, _DestroyReport, _Diff


async def diff_async(spec: Union[MeshSpec, Plan], **options: Any) -> _Diff:
    """:func:`diff` in a worker thread (same keyword arguments)."""
    return await asyncio.to_thread(diff, spec, **options)


async def apply_async(spec: Union[MeshSpec, Plan], **options: Any) -> _ApplyReport:
    """:func:`apply` in a worker thread (same keyword arguments)."""
    return await asyncio.to_thread(apply, spec, **options)


async def destroy_async(spec: Union[MeshSpec, Plan], **options: Any) -> _DestroyReport:
    """:func:`destroy` in a worker thread (same keyword arguments)."""
    return await asyncio.to_thread(destroy, spec, **options)


__all__ = [
    "BackendError",
    "ConflictError",
    "EncodeError",
    "InMemoryCluster",
    "InstallError",
    "InterceptConfig",
    "IptablesError",
    "IptablesPlan",
    "Job",
    "MeshError",
    "MeshIOError",
    "MeshSpec",
    "Plan",
    "PlannedJob",
    "RulesFile",
    "SpecError",
    "ValidationError",
    "VmBundle",
    "Finding",
    "VerifyReport",
    "__version__",
    "apply",
    "apply_async",
    "destroy",
    "destroy_async",
    "diff",
    "diff_async",
    "inject",
    "plan",
    "remove_sidecar",
    "verify",
    "verify_live",
]
