//! The typed Nomad job model, in the shape of Nomad's HTTP API.
//!
//! Every struct serializes to the JSON that `POST /v1/jobs` takes and `GET /v1/job/:id`
//! returns: PascalCase keys with Go acronyms (`ID`, `CPU`, `MemoryMB`), durations as integer
//! nanoseconds, static ports in `ReservedPorts` and dynamic ones in `DynamicPorts`.
//!
//! Keys the model does not know are **kept**: each struct has an `extra` map that collects
//! them on read and writes them back unchanged, so a user's job comes out of any
//! transformation with every field it went in with. A JSON `null` and an absent key mean the
//! same thing to Nomad (the server fills in its default), and the model treats them alike; an
//! empty list or map is likewise written only when it holds something.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Keys of an object that the typed model does not know, kept in their original order.
pub type Extra = Map<String, Value>;

/// A string to string map (`Meta`, `Env`), in the order it was written.
pub type StringMap = IndexMap<String, String>;

/// One second in the nanoseconds Nomad's JSON uses for durations.
pub const SECOND: i64 = 1_000_000_000;

macro_rules! model {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                $fname:ident : $fty:ty => $key:literal,
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        pub struct $name {
            $(
                $(#[$fmeta])*
                #[serde(rename = $key, default, skip_serializing_if = "Skip::skip", deserialize_with = "null_default")]
                pub $fname: $fty,
            )*
            /// Keys this model does not know, kept as they were.
            #[serde(flatten)]
            pub extra: Extra,
        }
    };
}

/// Decides which values are left out of the JSON: `None`, empty lists and empty maps.
pub trait Skip {
    /// True when the value is not written.
    fn skip(&self) -> bool;
}

impl<T> Skip for Option<T> {
    fn skip(&self) -> bool {
        self.is_none()
    }
}

impl<T> Skip for Vec<T> {
    fn skip(&self) -> bool {
        self.is_empty()
    }
}

impl<K, V> Skip for IndexMap<K, V> {
    fn skip(&self) -> bool {
        self.is_empty()
    }
}

impl Skip for Map<String, Value> {
    fn skip(&self) -> bool {
        self.is_empty()
    }
}

/// Reads `null` as the type's default (Nomad treats both alike).
fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

model! {
    /// A Nomad job (`api.Job`).
    pub struct Job {
        /// Unique job ID (the HCL label); no spaces or NUL.
        id: Option<String> => "ID",
        /// Display name; defaults to the ID.
        name: Option<String> => "Name",
        /// `service` (default), `batch`, `system` or `sysbatch`.
        job_type: Option<String> => "Type",
        /// Region; the server default is `global`.
        region: Option<String> => "Region",
        /// Namespace; the server default is `default`.
        namespace: Option<String> => "Namespace",
        /// Scheduling priority, 1..=100 (server default 50).
        priority: Option<i64> => "Priority",
        /// Datacenters the job may run in (the server fills in `["*"]` when empty).
        datacenters: Vec<String> => "Datacenters",
        /// Node pool.
        node_pool: Option<String> => "NodePool",
        /// Schedule all groups at once.
        all_at_once: Option<bool> => "AllAtOnce",
        /// Placement constraints.
        constraints: Vec<Constraint> => "Constraints",
        /// Placement preferences.
        affinities: Vec<Affinity> => "Affinities",
        /// Spread of allocations over an attribute.
        spreads: Vec<Spread> => "Spreads",
        /// The task groups (at least one).
        task_groups: Vec<TaskGroup> => "TaskGroups",
        /// Rolling update strategy (service and system jobs only).
        update: Option<UpdateStrategy> => "Update",
        /// Reschedule policy (the job-level key is `Reschedule`).
        reschedule: Option<ReschedulePolicy> => "Reschedule",
        /// Migrate strategy (service jobs only).
        migrate: Option<MigrateStrategy> => "Migrate",
        /// Free-form metadata.
        meta: StringMap => "Meta",
    }
}

model! {
    /// A task group (`api.TaskGroup`): tasks placed together on one node.
    pub struct TaskGroup {
        /// Group name (the HCL label), unique within the job.
        name: Option<String> => "Name",
        /// Number of instances (default 1).
        count: Option<i64> => "Count",
        /// Placement constraints.
        constraints: Vec<Constraint> => "Constraints",
        /// Placement preferences.
        affinities: Vec<Affinity> => "Affinities",
        /// Spread of allocations.
        spreads: Vec<Spread> => "Spreads",
        /// The tasks of the group.
        tasks: Vec<Task> => "Tasks",
        /// Volume requests, keyed by name.
        volumes: IndexMap<String, VolumeRequest> => "Volumes",
        /// Restart policy (HCL `restart`).
        restart_policy: Option<RestartPolicy> => "RestartPolicy",
        /// Reschedule policy (HCL `reschedule`).
        reschedule_policy: Option<ReschedulePolicy> => "ReschedulePolicy",
        /// Ephemeral disk.
        ephemeral_disk: Option<EphemeralDisk> => "EphemeralDisk",
        /// Group-level update strategy.
        update: Option<UpdateStrategy> => "Update",
        /// Group-level migrate strategy.
        migrate: Option<MigrateStrategy> => "Migrate",
        /// Group networks (at most one in current Nomad).
        networks: Vec<NetworkResource> => "Networks",
        /// Free-form metadata.
        meta: StringMap => "Meta",
        /// Group-level services.
        services: Vec<Service> => "Services",
        /// Delay between deregistering services and killing tasks (ns).
        shutdown_delay: Option<i64> => "ShutdownDelay",
    }
}

model! {
    /// A task (`api.Task`): one process run by a driver.
    pub struct Task {
        /// Task name (the HCL label), unique within the group.
        name: Option<String> => "Name",
        /// Driver: `docker`, `exec`, `raw_exec`, ...
        driver: Option<String> => "Driver",
        /// User to run as.
        user: Option<String> => "User",
        /// Lifecycle hook; a task without one is a main task.
        lifecycle: Option<Lifecycle> => "Lifecycle",
        /// Driver configuration: an open map with snake_case keys.
        config: Map<String, Value> => "Config",
        /// Environment variables.
        env: StringMap => "Env",
        /// Free-form metadata.
        meta: StringMap => "Meta",
        /// Task-level services.
        services: Vec<Service> => "Services",
        /// Resources.
        resources: Option<Resources> => "Resources",
        /// Restart policy, merged over the group's.
        restart_policy: Option<RestartPolicy> => "RestartPolicy",
        /// Time between the kill signal and a forced kill (ns).
        kill_timeout: Option<i64> => "KillTimeout",
        /// Delay before the kill signal (ns).
        shutdown_delay: Option<i64> => "ShutdownDelay",
        /// Signal sent to stop the task.
        kill_signal: Option<String> => "KillSignal",
        /// The leader task; the others are stopped when it exits.
        leader: Option<bool> => "Leader",
        /// Task kind (for example `connect-proxy:<service>`).
        kind: Option<String> => "Kind",
        /// Log rotation (HCL `logs`).
        log_config: Option<LogConfig> => "LogConfig",
        /// Artifacts downloaded before start.
        artifacts: Vec<Artifact> => "Artifacts",
        /// Templates rendered into the task directory.
        templates: Vec<Template> => "Templates",
        /// Volume mounts.
        volume_mounts: Vec<VolumeMount> => "VolumeMounts",
        /// Vault integration.
        vault: Option<Vault> => "Vault",
        /// Placement constraints.
        constraints: Vec<Constraint> => "Constraints",
        /// Placement preferences.
        affinities: Vec<Affinity> => "Affinities",
    }
}

model! {
    /// A service registration (`api.Service`).
    pub struct Service {
        /// Service name (defaults to `<job>-<group>[-<task>]`).
        name: Option<String> => "Name",
        /// Tags.
        tags: Vec<String> => "Tags",
        /// Tags used while the allocation is a canary.
        canary_tags: Vec<String> => "CanaryTags",
        /// Port label or number (HCL `port`).
        port_label: Option<String> => "PortLabel",
        /// `auto`, `host`, `driver` or `alloc`.
        address_mode: Option<String> => "AddressMode",
        /// Explicit address.
        address: Option<String> => "Address",
        /// Health checks (HCL `check`).
        checks: Vec<ServiceCheck> => "Checks",
        /// Restart on failing checks.
        check_restart: Option<CheckRestart> => "CheckRestart",
        /// Consul Connect settings, kept as the API shape.
        connect: Option<Value> => "Connect",
        /// Service metadata.
        meta: StringMap => "Meta",
        /// Metadata used while the allocation is a canary.
        canary_meta: StringMap => "CanaryMeta",
        /// Task whose address a group service uses (HCL `task`).
        task_name: Option<String> => "TaskName",
        /// `require_healthy`, `ignore_warnings` or `ignore`.
        on_update: Option<String> => "OnUpdate",
        /// `consul` (default) or `nomad`.
        provider: Option<String> => "Provider",
    }
}

model! {
    /// A health check (`api.ServiceCheck`).
    pub struct ServiceCheck {
        /// Check name.
        name: Option<String> => "Name",
        /// `http`, `tcp`, `grpc` or `script`.
        check_type: Option<String> => "Type",
        /// Command of a script check.
        command: Option<String> => "Command",
        /// Arguments of a script check.
        args: Vec<String> => "Args",
        /// HTTP path.
        path: Option<String> => "Path",
        /// `http` or `https`.
        protocol: Option<String> => "Protocol",
        /// Port label or number (HCL `port`).
        port_label: Option<String> => "PortLabel",
        /// Address mode.
        address_mode: Option<String> => "AddressMode",
        /// Interval (ns).
        interval: Option<i64> => "Interval",
        /// Timeout (ns).
        timeout: Option<i64> => "Timeout",
        /// Initial status.
        initial_status: Option<String> => "InitialStatus",
        /// HTTP headers.
        header: IndexMap<String, Vec<String>> => "Header",
        /// HTTP method.
        method: Option<String> => "Method",
        /// HTTP body.
        body: Option<String> => "Body",
        /// TLS server name.
        tls_server_name: Option<String> => "TLSServerName",
        /// Skip TLS verification.
        tls_skip_verify: Option<bool> => "TLSSkipVerify",
        /// gRPC service name.
        grpc_service: Option<String> => "GRPCService",
        /// gRPC over TLS.
        grpc_use_tls: Option<bool> => "GRPCUseTLS",
        /// Task a script check runs in.
        task_name: Option<String> => "TaskName",
        /// Restart on failure.
        check_restart: Option<CheckRestart> => "CheckRestart",
        /// Behaviour during updates.
        on_update: Option<String> => "OnUpdate",
    }
}

model! {
    /// Restart a task when its check fails (`api.CheckRestart`).
    pub struct CheckRestart {
        /// Failures before a restart.
        limit: Option<i64> => "Limit",
        /// Grace period after start (ns).
        grace: Option<i64> => "Grace",
        /// Treat warnings as passing.
        ignore_warnings: Option<bool> => "IgnoreWarnings",
    }
}

model! {
    /// A network (`api.NetworkResource`).
    pub struct NetworkResource {
        /// `host` (default), `bridge`, `none` or `cni/<name>`.
        mode: Option<String> => "Mode",
        /// Host device.
        device: Option<String> => "Device",
        /// CIDR.
        cidr: Option<String> => "CIDR",
        /// IP.
        ip: Option<String> => "IP",
        /// Hostname inside the namespace.
        hostname: Option<String> => "Hostname",
        /// DNS settings.
        dns: Option<DnsConfig> => "DNS",
        /// Static ports (`static = N` in HCL).
        reserved_ports: Vec<Port> => "ReservedPorts",
        /// Dynamic ports.
        dynamic_ports: Vec<Port> => "DynamicPorts",
        /// Bandwidth (deprecated).
        mbits: Option<i64> => "MBits",
    }
}

model! {
    /// A port (`api.Port`).
    pub struct Port {
        /// Label used by services and drivers.
        label: Option<String> => "Label",
        /// Static host port (0 for dynamic).
        value: Option<i64> => "Value",
        /// Port inside the network namespace (`-1`/0: same as the host port).
        to: Option<i64> => "To",
        /// Host network name.
        host_network: Option<String> => "HostNetwork",
    }
}

model! {
    /// DNS settings of a network (`api.DNSConfig`).
    pub struct DnsConfig {
        /// Name servers.
        servers: Vec<String> => "Servers",
        /// Search domains.
        searches: Vec<String> => "Searches",
        /// Resolver options.
        options: Vec<String> => "Options",
    }
}

model! {
    /// Resources of a task (`api.Resources`).
    pub struct Resources {
        /// CPU in MHz (default 100).
        cpu: Option<i64> => "CPU",
        /// Reserved cores.
        cores: Option<i64> => "Cores",
        /// Memory in MB (default 300).
        memory_mb: Option<i64> => "MemoryMB",
        /// Memory limit in MB (oversubscription).
        memory_max_mb: Option<i64> => "MemoryMaxMB",
        /// Disk in MB (legacy).
        disk_mb: Option<i64> => "DiskMB",
        /// Task-level networks (legacy, pre-0.12).
        networks: Vec<NetworkResource> => "Networks",
        /// Devices.
        devices: Vec<Value> => "Devices",
    }
}

model! {
    /// A placement constraint (`api.Constraint`).
    pub struct Constraint {
        /// Left side (HCL `attribute`).
        l_target: Option<String> => "LTarget",
        /// Right side (HCL `value`).
        r_target: Option<String> => "RTarget",
        /// Operator (HCL `operator`, default `=`).
        operand: Option<String> => "Operand",
    }
}

model! {
    /// A placement preference (`api.Affinity`).
    pub struct Affinity {
        /// Left side (HCL `attribute`).
        l_target: Option<String> => "LTarget",
        /// Right side (HCL `value`).
        r_target: Option<String> => "RTarget",
        /// Operator.
        operand: Option<String> => "Operand",
        /// Weight, -100..=100, not 0 (default 50).
        weight: Option<i64> => "Weight",
    }
}

model! {
    /// Spread allocations over an attribute (`api.Spread`).
    pub struct Spread {
        /// Node attribute to spread over.
        attribute: Option<String> => "Attribute",
        /// Weight, 0..=100.
        weight: Option<i64> => "Weight",
        /// Desired share per value (the key is singular, `SpreadTarget`).
        spread_target: Vec<SpreadTarget> => "SpreadTarget",
    }
}

model! {
    /// One target of a [`Spread`].
    pub struct SpreadTarget {
        /// Attribute value.
        value: Option<String> => "Value",
        /// Percent of allocations.
        percent: Option<i64> => "Percent",
    }
}

model! {
    /// Rolling update strategy (`api.UpdateStrategy`).
    pub struct UpdateStrategy {
        /// Delay between sets of updates (ns).
        stagger: Option<i64> => "Stagger",
        /// Allocations updated at once.
        max_parallel: Option<i64> => "MaxParallel",
        /// `checks`, `task_states` or `manual`.
        health_check: Option<String> => "HealthCheck",
        /// Time an allocation must be healthy (ns).
        min_healthy_time: Option<i64> => "MinHealthyTime",
        /// Deadline for an allocation to become healthy (ns).
        healthy_deadline: Option<i64> => "HealthyDeadline",
        /// Deadline for the deployment to make progress (ns).
        progress_deadline: Option<i64> => "ProgressDeadline",
        /// Canaries.
        canary: Option<i64> => "Canary",
        /// Revert to the last stable version on failure.
        auto_revert: Option<bool> => "AutoRevert",
        /// Promote canaries automatically.
        auto_promote: Option<bool> => "AutoPromote",
    }
}

model! {
    /// Migrate strategy (`api.MigrateStrategy`).
    pub struct MigrateStrategy {
        /// Allocations migrated at once.
        max_parallel: Option<i64> => "MaxParallel",
        /// `checks` or `task_states`.
        health_check: Option<String> => "HealthCheck",
        /// Time an allocation must be healthy (ns).
        min_healthy_time: Option<i64> => "MinHealthyTime",
        /// Deadline to become healthy (ns).
        healthy_deadline: Option<i64> => "HealthyDeadline",
    }
}

model! {
    /// Restart policy (`api.RestartPolicy`).
    pub struct RestartPolicy {
        /// Window for `attempts` (ns).
        interval: Option<i64> => "Interval",
        /// Restarts allowed in the window.
        attempts: Option<i64> => "Attempts",
        /// Delay before a restart (ns).
        delay: Option<i64> => "Delay",
        /// `fail` or `delay`.
        mode: Option<String> => "Mode",
        /// Re-render templates on restart.
        render_templates: Option<bool> => "RenderTemplates",
    }
}

model! {
    /// Reschedule policy (`api.ReschedulePolicy`).
    pub struct ReschedulePolicy {
        /// Attempts in the interval.
        attempts: Option<i64> => "Attempts",
        /// Window (ns).
        interval: Option<i64> => "Interval",
        /// Initial delay (ns).
        delay: Option<i64> => "Delay",
        /// `exponential`, `constant` or `fibonacci`.
        delay_function: Option<String> => "DelayFunction",
        /// Maximum delay (ns).
        max_delay: Option<i64> => "MaxDelay",
        /// Reschedule without limit.
        unlimited: Option<bool> => "Unlimited",
    }
}

model! {
    /// Ephemeral disk (`api.EphemeralDisk`).
    pub struct EphemeralDisk {
        /// Keep the data on the same node across updates.
        sticky: Option<bool> => "Sticky",
        /// Move the data when the allocation moves.
        migrate: Option<bool> => "Migrate",
        /// Size in MB (HCL `size`).
        size_mb: Option<i64> => "SizeMB",
    }
}

model! {
    /// Lifecycle hook of a task (`api.TaskLifecycle`).
    pub struct Lifecycle {
        /// `prestart`, `poststart` or `poststop` (required).
        hook: Option<String> => "Hook",
        /// Keep the task running beside the main tasks.
        sidecar: Option<bool> => "Sidecar",
    }
}

model! {
    /// A template rendered into the task directory (`api.Template`).
    pub struct Template {
        /// Source file (HCL `source`).
        source_path: Option<String> => "SourcePath",
        /// Destination (HCL `destination`).
        dest_path: Option<String> => "DestPath",
        /// Inline template (HCL `data`).
        embedded_tmpl: Option<String> => "EmbeddedTmpl",
        /// `restart`, `noop`, `signal` or `script`.
        change_mode: Option<String> => "ChangeMode",
        /// Signal for `signal` mode.
        change_signal: Option<String> => "ChangeSignal",
        /// Random wait before acting on a change (ns).
        splay: Option<i64> => "Splay",
        /// File permissions, e.g. `"0644"`.
        perms: Option<String> => "Perms",
        /// Owner uid.
        uid: Option<i64> => "Uid",
        /// Owner gid.
        gid: Option<i64> => "Gid",
        /// Left delimiter.
        left_delim: Option<String> => "LeftDelim",
        /// Right delimiter.
        right_delim: Option<String> => "RightDelim",
        /// Load the rendered file as environment variables (HCL `env`).
        envvars: Option<bool> => "Envvars",
    }
}

model! {
    /// Log rotation (`api.LogConfig`, HCL `logs`).
    pub struct LogConfig {
        /// Files kept.
        max_files: Option<i64> => "MaxFiles",
        /// Size of each file in MB.
        max_file_size_mb: Option<i64> => "MaxFileSizeMB",
        /// Disable log collection.
        disabled: Option<bool> => "Disabled",
    }
}

model! {
    /// An artifact downloaded before the task starts (`api.TaskArtifact`).
    pub struct Artifact {
        /// Source URL (HCL `source`).
        getter_source: Option<String> => "GetterSource",
        /// go-getter options (HCL `options`).
        getter_options: StringMap => "GetterOptions",
        /// HTTP headers (HCL `headers`).
        getter_headers: StringMap => "GetterHeaders",
        /// `any`, `file` or `dir` (HCL `mode`).
        getter_mode: Option<String> => "GetterMode",
        /// Destination (HCL `destination`).
        relative_dest: Option<String> => "RelativeDest",
    }
}

model! {
    /// A volume request of a group (`api.VolumeRequest`).
    pub struct VolumeRequest {
        /// Name (the HCL label).
        name: Option<String> => "Name",
        /// `host` or `csi`.
        volume_type: Option<String> => "Type",
        /// Host volume or CSI volume ID.
        source: Option<String> => "Source",
        /// Read-only.
        read_only: Option<bool> => "ReadOnly",
        /// CSI access mode.
        access_mode: Option<String> => "AccessMode",
        /// CSI attachment mode.
        attachment_mode: Option<String> => "AttachmentMode",
        /// One volume per allocation index.
        per_alloc: Option<bool> => "PerAlloc",
    }
}

model! {
    /// A volume mount of a task (`api.VolumeMount`).
    pub struct VolumeMount {
        /// Volume name from the group's `volume` blocks.
        volume: Option<String> => "Volume",
        /// Mount point in the task.
        destination: Option<String> => "Destination",
        /// Read-only.
        read_only: Option<bool> => "ReadOnly",
        /// Propagation mode.
        propagation_mode: Option<String> => "PropagationMode",
    }
}

model! {
    /// Vault integration of a task (`api.Vault`).
    pub struct Vault {
        /// Policies (legacy workflow).
        policies: Vec<String> => "Policies",
        /// Vault role.
        role: Option<String> => "Role",
        /// Vault namespace.
        namespace: Option<String> => "Namespace",
        /// Write the token to the environment.
        env: Option<bool> => "Env",
        /// `restart`, `noop` or `signal`.
        change_mode: Option<String> => "ChangeMode",
        /// Signal for `signal` mode.
        change_signal: Option<String> => "ChangeSignal",
    }
}
