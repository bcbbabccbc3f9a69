"""istio_nomad: an Istio service mesh on HashiCorp Nomad, Consul and etcd, from Python.

The data flows one way: spec -> plan -> render / apply::

    import istio_nomad

    spec = istio_nomad.MeshSpec.from_file("examples/bookinfo.mesh.hcl")  # parsed and validated once
    plan = istio_nomad.plan(spec)                                      # pure data, no I/O
    for stage in plan.order:
        print(", ".join(stage))
    plan.write("out/bookinfo")                                          # HCL, JSON, rules files

    rules = istio_nomad.InterceptConfig(inbound_ports=[9080]).plan()
    print(rules.restore())                                              # iptables-restore input

Errors derive from :class:`MeshError`, one subclass per family: :class:`SpecError` (text or
values that cannot be read), :class:`ValidationError` (``.errors`` lists ``(path, message)``),
:class:`IptablesError`, :class:`BackendError` (``.status``), :class:`ConflictError` and
:class:`MeshIOError` (also an :class:`OSError`). An argument of the wrong Python type (``plan(42)``)
raises :class:`TypeError`, as Python functions do.
"""

from ._istio_nomad import (
    BackendError,
    ConflictError,
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
    __version__,
    inject,
    plan,
    remove_sidecar,
)

__all__ = [
    "BackendError",
    "ConflictError",
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
    "__version__",
    "inject",
    "plan",
    "remove_sidecar",
]
