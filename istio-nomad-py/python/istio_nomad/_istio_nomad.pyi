"""Type stubs of the compiled module ``istio_nomad._istio_nomad``."""

import os
from collections.abc import Mapping, Sequence
from collections.abc import Callable
from typing import Any, Literal, Optional, TypedDict, Union, final

_PathLike = Union[str, "os.PathLike[str]"]
_Family = Literal["ipv4", "ipv6"]

__version__: str
__all__ = [
    "__version__",
    "MeshSpec",
    "Job",
    "Plan",
    "PlannedJob",
    "RulesFile",
    "VmBundle",
    "InterceptConfig",
    "IptablesPlan",
    "plan",
    "verify",
    "verify_live",
    "Finding",
    "VerifyReport",
    "inject",
    "remove_sidecar",
    "InMemoryCluster",
    "diff",
    "apply",
    "destroy",
    "MeshError",
    "SpecError",
    "ValidationError",
    "IptablesError",
    "BackendError",
    "ConflictError",
    "EncodeError",
    "InstallError",
    "MeshIOError",
]

class MeshError(Exception):
    """Base class of every error raised by istio_nomad."""

    family: str
    report: dict[str, Any]
    """The error as data: ``{"family", "message", "line", "kind"?, "fields": [{"path",
    "message", "value"}]}``, the same document the C ABI's ``istio_nomad_error_json`` holds
    (without its ``code`` and ``name``)."""

class SpecError(MeshError):
    """The input is not valid HCL/JSON, or a value has the wrong type (family ``parse``)."""

    path: Optional[str]
    line: Optional[int]
    format: str
    kind: str
    """``invalid``, ``type``, ``unknown_field``, ``unknown_function``, ``function_call``,
    ``filesystem_not_allowed``, ``reference``, ``variable``, ``cycle`` or ``limit.<which>``."""

class ValidationError(MeshError):
    """The input parsed but breaks rules (family ``validation``)."""

    errors: list[tuple[str, str]]

class IptablesError(MeshError):
    """An interception rule set could not be built, read or applied (family ``iptables``)."""

class BackendError(MeshError):
    """A Nomad, Consul or etcd call failed (family ``backend``)."""

    status: Optional[int]
    service: Optional[str]

class ConflictError(MeshError):
    """Another operator holds the mesh lock or changed the state first (family ``conflict``)."""

    kind: str
    """``lock_held``, ``lock_delay``, ``lock_lost``, ``state_changed``, ``job_changed`` or
    ``changed_during_apply``."""
    subject: str
    """The mesh, state key or job the conflict is about."""

class EncodeError(MeshError):
    """A value could not be written as JSON (family ``encode``)."""

    what: str

class InstallError(MeshError):
    """A job of an apply or destroy failed (family ``install``)."""

    job: str

class MeshIOError(MeshError, OSError):
    """A local file could not be read or written (family ``io``)."""

    op: str

@final
class MeshSpec:
    """A validated mesh description."""

    @staticmethod
    def from_hcl(text: str) -> MeshSpec: ...
    @staticmethod
    def from_json(text: str) -> MeshSpec: ...
    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> MeshSpec: ...
    @staticmethod
    def from_file(path: _PathLike) -> MeshSpec: ...
    def to_dict(self) -> dict[str, Any]: ...
    @property
    def name(self) -> str: ...
    @property
    def services(self) -> list[str]: ...
    def __eq__(self, value: object, /) -> bool: ...

@final
class Job:
    """A Nomad job in the shape of Nomad's HTTP API."""

    @staticmethod
    def from_hcl(
        text: str,
        *,
        vars: Optional[Mapping[str, Any]] = None,
        var_files: Optional[Sequence[_PathLike]] = None,
        env: Optional[Mapping[str, str]] = None,
        allow_unknown: bool = False,
        allow_fs: bool = False,
    ) -> Job: ...
    @staticmethod
    def from_json(text: str) -> Job: ...
    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> Job: ...
    @staticmethod
    def from_file(
        path: _PathLike,
        *,
        vars: Optional[Mapping[str, Any]] = None,
        var_files: Optional[Sequence[_PathLike]] = None,
        env: Optional[Mapping[str, str]] = None,
        allow_unknown: bool = False,
        allow_fs: bool = False,
    ) -> Job: ...
    @property
    def id(self) -> str: ...
    @property
    def groups(self) -> list[str]: ...
    def validate(self) -> None: ...
    def to_hcl(self) -> str: ...
    def to_json(self) -> str: ...
    def to_register_json(self) -> str: ...
    def to_dict(self) -> dict[str, Any]: ...
    def __eq__(self, value: object, /) -> bool: ...

@final
class PlannedJob:
    """One job of a plan with its role and the jobs it waits for."""

    @property
    def job(self) -> Job: ...
    @property
    def id(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def depends_on(self) -> list[str]: ...

@final
class RulesFile:
    """The iptables rules of one meshed task group."""

    @property
    def job(self) -> str: ...
    @property
    def group(self) -> str: ...
    @property
    def restore(self) -> str: ...
    @property
    def cleanup(self) -> str: ...
    @property
    def restore_v6(self) -> Optional[str]: ...
    @property
    def cleanup_v6(self) -> Optional[str]: ...

@final
class VmBundle:
    """The files of the bundle of one service that runs outside Nomad."""

    @property
    def service(self) -> str: ...
    @property
    def files(self) -> dict[str, str]: ...

@final
class Plan:
    """Everything a mesh spec turns into."""

    @property
    def jobs(self) -> list[Job]: ...
    @property
    def planned(self) -> list[PlannedJob]: ...
    def job(self, id: str) -> Optional[Job]: ...
    @property
    def order(self) -> list[list[str]]: ...
    @property
    def spec_hash(self) -> str: ...
    @property
    def spec(self) -> MeshSpec: ...
    @property
    def iptables(self) -> list[RulesFile]: ...
    @property
    def vm_bundles(self) -> list[VmBundle]: ...
    def files(self) -> list[tuple[str, str]]: ...
    def write(self, dir: _PathLike) -> list[str]: ...

def plan(spec: MeshSpec, *, verify: bool = True) -> Plan: ...

@final
class Finding:
    """One place where traffic would stop."""

    @property
    def severity(self) -> Literal["error", "warning"]: ...
    @property
    def kind(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def message(self) -> str: ...

@final
class VerifyReport:
    """What `verify` found."""

    @property
    def istio_version(self) -> str: ...
    @property
    def mode(self) -> Literal["predicted", "live"]: ...
    @property
    def source(self) -> str: ...
    @property
    def findings(self) -> list[Finding]: ...
    @property
    def has_errors(self) -> bool: ...
    def to_json(self) -> str: ...

def verify(plan_or_spec: Union[Plan, MeshSpec]) -> VerifyReport: ...
def verify_live(
    plan_or_spec: Union[Plan, MeshSpec],
    *,
    nomad: Optional[str] = None,
    consul: Optional[str] = None,
    in_memory: Optional[InMemoryCluster] = None,
) -> VerifyReport: ...

@final
class InterceptConfig:
    """Every setting of Istio's traffic interception (``istio-iptables``), validated."""

    def __new__(
        cls,
        *,
        proxy_port: Optional[int] = None,
        inbound_capture_port: Optional[int] = None,
        proxy_uids: Optional[Sequence[int]] = None,
        proxy_gids: Optional[Sequence[int]] = None,
        bypass_root: Optional[bool] = None,
        mode: Optional[Literal["redirect", "tproxy"]] = None,
        inbound_ports: Union[Literal["all", "none"], Sequence[int], None] = None,
        exclude_inbound_ports: Optional[Sequence[int]] = None,
        outbound_cidrs: Union[Literal["all", "none"], Sequence[str], None] = None,
        exclude_outbound_cidrs: Optional[Sequence[str]] = None,
        exclude_outbound_ports: Optional[Sequence[int]] = None,
        outbound_interfaces: Optional[Sequence[str]] = None,
        tproxy_mark: Optional[int] = None,
        tproxy_route_table: Optional[int] = None,
        ipv6: Optional[bool] = None,
    ) -> InterceptConfig: ...
    @staticmethod
    def from_flags(flags: Sequence[str]) -> InterceptConfig: ...
    @staticmethod
    def from_env(env: Mapping[str, str]) -> InterceptConfig: ...
    @staticmethod
    def from_env_files(paths: Sequence[_PathLike]) -> InterceptConfig: ...
    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> InterceptConfig: ...
    def to_dict(self) -> dict[str, Any]: ...
    def plan(self) -> IptablesPlan: ...
    def __eq__(self, value: object, /) -> bool: ...

@final
class IptablesPlan:
    """Istio's interception rules for one ``InterceptConfig``, rendered on demand."""

    def __new__(cls, config: InterceptConfig) -> IptablesPlan: ...
    @property
    def config(self) -> InterceptConfig: ...
    @property
    def families(self) -> list[_Family]: ...
    def restore(self, family: _Family = "ipv4") -> str: ...
    def cleanup(self, family: _Family = "ipv4") -> str: ...
    def shell(self) -> str: ...
    def cleanup_shell(self) -> str: ...
    def rules_file(self) -> dict[str, Any]: ...

def inject(
    job: Job,
    *,
    mesh: str,
    hub: Optional[str] = None,
    istio_version: Optional[str] = None,
    mode: Optional[Literal["bridge", "host"]] = None,
    cni_network: Optional[str] = None,
    selection: Optional[Literal["with_services", "opt_in"]] = None,
    proxy_image: Optional[str] = None,
    init_image: Optional[str] = None,
    ready_image: Optional[str] = None,
    readiness_gate: Optional[bool] = None,
    ready_timeout: Optional[int] = None,
    pilot_address: Optional[str] = None,
    zipkin_address: Optional[str] = None,
    cpu: Optional[int] = None,
    memory: Optional[int] = None,
    expose_admin: Optional[bool] = None,
    replace_connect: Optional[bool] = None,
    intercept: Optional[InterceptConfig] = None,
    version: Optional[str] = None,
    protocol: Optional[str] = None,
    extra_bridge_drivers: Optional[Sequence[str]] = None,
) -> Job: ...
def remove_sidecar(job: Job) -> Job: ...

@final
class InMemoryCluster:
    """An in-memory Nomad, Consul and etcd wired together like a real cluster."""

    def __new__(cls) -> InMemoryCluster: ...
    def job_ids(self, namespace: str = "default") -> list[str]: ...
    def service_ids(self) -> list[str]: ...
    def set_progress_delay(self, seconds: float) -> None: ...
    def fail_deployments(self, job_id: str) -> None: ...

class _Writes(TypedDict):
    registers: int
    deregisters: int
    state_writes: int
    locks: int
    total: int

class _JobChange(TypedDict):
    job_id: str
    role: str
    stage: int
    change: Literal["create", "update", "unchanged"]
    job_modify_index: int
    desired_updates: dict[str, dict[str, int]]
    changed_fields: list[str]
    recorded: bool
    content_hash: str

class _Diff(TypedDict):
    mesh: str
    spec_hash: str
    recorded_spec_hash: Optional[str]
    stages: list[list[str]]
    jobs: list[_JobChange]
    removed: list[str]
    in_sync: bool

class _JobOutcome(TypedDict):
    job_id: str
    action: Literal["created", "updated", "unchanged"]
    version: int
    job_modify_index: int
    state_written: bool

class _ApplyReport(TypedDict):
    mesh: str
    spec_hash: str
    jobs: list[_JobOutcome]
    created: list[str]
    updated: list[str]
    unchanged: list[str]
    removed: list[str]
    writes: _Writes
    warnings: list[str]
    elapsed_ms: int

class _DestroyReport(TypedDict):
    mesh: str
    deregistered: list[str]
    writes: _Writes
    warnings: list[str]
    elapsed_ms: int

_Target = Union[MeshSpec, Plan]
_Progress = Optional[Callable[[dict[str, Any]], object]]
_InMemory = Union[bool, InMemoryCluster, None]
_StateBackend = Literal["etcd", "consul"]

def diff(
    spec: _Target,
    *,
    nomad: Optional[str] = None,
    consul: Optional[str] = None,
    etcd: Optional[Sequence[str]] = None,
    in_memory: _InMemory = None,
    progress: _Progress = None,
    state_backend: _StateBackend = "etcd",
) -> _Diff: ...
def apply(
    spec: _Target,
    *,
    nomad: Optional[str] = None,
    consul: Optional[str] = None,
    etcd: Optional[Sequence[str]] = None,
    in_memory: _InMemory = None,
    progress: _Progress = None,
    state_backend: _StateBackend = "etcd",
    holder: Optional[str] = None,
    health_deadline: Optional[float] = None,
    query_wait: Optional[float] = None,
    lock_ttl: Optional[float] = None,
    lock_wait: Optional[float] = None,
    prune: Optional[bool] = None,
    wait_for_health: Optional[bool] = None,
) -> _ApplyReport: ...
def destroy(
    spec: _Target,
    *,
    nomad: Optional[str] = None,
    consul: Optional[str] = None,
    etcd: Optional[Sequence[str]] = None,
    in_memory: _InMemory = None,
    progress: _Progress = None,
    state_backend: _StateBackend = "etcd",
    holder: Optional[str] = None,
    health_deadline: Optional[float] = None,
    query_wait: Optional[float] = None,
    lock_ttl: Optional[float] = None,
    lock_wait: Optional[float] = None,
    wait_for_health: Optional[bool] = None,
) -> _DestroyReport: ...
