//! The conversion table: for every jobspec block, which HCL names map to which Nomad API
//! JSON keys and how their values are read. The names follow the `hcl` tags of Nomad's Go
//! `api` structs; keys absent from the table go through the generic rule in `names`.

use serde_json::{Map, Value};

/// How a field is written in HCL and what JSON it becomes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    /// String attribute (numbers and bools are converted, like HCL's type conversion).
    Str,
    /// Whole-number attribute (numeric strings are converted).
    Int,
    /// Bool attribute (`"true"`/`"false"` strings are converted).
    Bool,
    /// Go duration: `"30s"` in HCL, integer nanoseconds in JSON.
    Duration,
    /// List of strings.
    StrList,
    /// List of whole numbers.
    IntList,
    /// `map[string]string`: a block of attributes or a map attribute. `block` says which form
    /// is written back (Nomad accepts the attribute form only for job/group/task `meta` and
    /// task `env`; other maps are written as blocks when their keys allow it).
    StrMap { block: bool },
    /// `map[string][]string` written as a block of list attributes (check `header`).
    StrListMap,
    /// Open driver-style map (`config`, `policy`): nested blocks become lists of objects,
    /// keys are kept as written.
    Open,
    /// One unlabeled block.
    Block(&'static Schema),
    /// Repeated unlabeled blocks -> JSON list.
    List(&'static Schema),
    /// Repeated blocks with one label stored under the given key -> JSON list.
    Labeled(&'static Schema, &'static str),
    /// Blocks with one label -> JSON object keyed by the label; the label is also stored
    /// under the given key inside each entry (`volume "x"` -> `Volumes.x.Name`).
    LabeledMap(&'static Schema, &'static str),
    /// Task `scaling "cpu"|"mem"` blocks -> `ScalingPolicies` with `Type` vertical_cpu/mem.
    TaskScaling,
}

/// Which directions use a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dir {
    Both,
    /// Read from HCL only (the JSON key is an internal marker or is written another way).
    Read,
    /// Written to HCL only (the HCL name is read into another key).
    Write,
}

#[derive(Debug)]
pub(crate) struct Field {
    pub hcl: &'static str,
    pub json: &'static str,
    pub kind: Kind,
    pub dir: Dir,
}

pub(crate) type Post = fn(&mut Map<String, Value>) -> Result<(), String>;

#[derive(Debug)]
pub(crate) struct Schema {
    pub fields: &'static [Field],
    /// Normalisation applied after reading the block, mirroring Nomad's jobspec2 parser.
    pub post: Option<Post>,
}

impl Schema {
    /// True when `hcl` names a field of this block in either direction.
    pub fn knows_hcl(&self, hcl: &str) -> bool {
        self.fields.iter().any(|f| f.hcl == hcl)
    }

    /// True when `json` is a key this block writes.
    pub fn knows_json(&self, json: &str) -> bool {
        self.fields
            .iter()
            .any(|f| f.json == json && f.dir != Dir::Read)
    }
}

const fn f(hcl: &'static str, json: &'static str, kind: Kind) -> Field {
    Field {
        hcl,
        json,
        kind,
        dir: Dir::Both,
    }
}
const fn read(hcl: &'static str, json: &'static str, kind: Kind) -> Field {
    Field {
        hcl,
        json,
        kind,
        dir: Dir::Read,
    }
}
const fn write(hcl: &'static str, json: &'static str, kind: Kind) -> Field {
    Field {
        hcl,
        json,
        kind,
        dir: Dir::Write,
    }
}

use Kind::*;

/// Internal keys (never produced by the generic rule: they start with a space).
pub(crate) const JOB_VAULT: &str = " vault";
pub(crate) const JOB_TASKS: &str = " tasks";
pub(crate) const GROUP_VAULT: &str = " vault";

pub(crate) static JOB: Schema = Schema {
    post: None,
    fields: &[
        read("id", "ID", Str),
        f("name", "Name", Str),
        f("region", "Region", Str),
        f("namespace", "Namespace", Str),
        f("type", "Type", Str),
        f("priority", "Priority", Int),
        f("all_at_once", "AllAtOnce", Bool),
        f("datacenters", "Datacenters", StrList),
        f("node_pool", "NodePool", Str),
        f("consul_token", "ConsulToken", Str),
        f("vault_token", "VaultToken", Str),
        f("meta", "Meta", StrMap { block: true }),
        f("constraint", "Constraints", List(&CONSTRAINT)),
        f("affinity", "Affinities", List(&AFFINITY)),
        f("spread", "Spreads", List(&SPREAD)),
        f("update", "Update", Block(&UPDATE)),
        f("migrate", "Migrate", Block(&MIGRATE)),
        f("reschedule", "Reschedule", Block(&RESCHEDULE)),
        f("periodic", "Periodic", Block(&PERIODIC)),
        f("parameterized", "ParameterizedJob", Block(&PARAMETERIZED)),
        f("multiregion", "Multiregion", Block(&MULTIREGION)),
        f("ui", "UI", Block(&UI)),
        read("vault", JOB_VAULT, Block(&VAULT)),
        read("task", JOB_TASKS, Labeled(&TASK, "Name")),
        f("group", "TaskGroups", Labeled(&GROUP, "Name")),
    ],
};

pub(crate) static GROUP: Schema = Schema {
    post: Some(post_group),
    fields: &[
        f("count", "Count", Int),
        f("shutdown_delay", "ShutdownDelay", Duration),
        f(
            "stop_after_client_disconnect",
            "StopAfterClientDisconnect",
            Duration,
        ),
        f("max_client_disconnect", "MaxClientDisconnect", Duration),
        f(
            "prevent_reschedule_on_lost",
            "PreventRescheduleOnLost",
            Bool,
        ),
        f("meta", "Meta", StrMap { block: true }),
        f("constraint", "Constraints", List(&CONSTRAINT)),
        f("affinity", "Affinities", List(&AFFINITY)),
        f("spread", "Spreads", List(&SPREAD)),
        f("volume", "Volumes", LabeledMap(&VOLUME, "Name")),
        f("restart", "RestartPolicy", Block(&RESTART)),
        f("reschedule", "ReschedulePolicy", Block(&RESCHEDULE)),
        f("disconnect", "Disconnect", Block(&DISCONNECT)),
        f("ephemeral_disk", "EphemeralDisk", Block(&EPHEMERAL_DISK)),
        f("update", "Update", Block(&UPDATE)),
        f("migrate", "Migrate", Block(&MIGRATE)),
        f("scaling", "Scaling", Block(&GROUP_SCALING)),
        f("consul", "Consul", Block(&CONSUL)),
        f("network", "Networks", List(&NETWORK)),
        f("service", "Services", List(&SERVICE)),
        read("vault", GROUP_VAULT, Block(&VAULT)),
        f("task", "Tasks", Labeled(&TASK, "Name")),
    ],
};

pub(crate) static TASK: Schema = Schema {
    post: Some(post_task),
    fields: &[
        f("driver", "Driver", Str),
        f("user", "User", Str),
        f("leader", "Leader", Bool),
        f("kind", "Kind", Str),
        f("kill_timeout", "KillTimeout", Duration),
        f("kill_signal", "KillSignal", Str),
        f("shutdown_delay", "ShutdownDelay", Duration),
        f("lifecycle", "Lifecycle", Block(&LIFECYCLE)),
        f("config", "Config", Open),
        f("env", "Env", StrMap { block: true }),
        f("meta", "Meta", StrMap { block: true }),
        f("constraint", "Constraints", List(&CONSTRAINT)),
        f("affinity", "Affinities", List(&AFFINITY)),
        f("resources", "Resources", Block(&RESOURCES)),
        f("restart", "RestartPolicy", Block(&RESTART)),
        f("logs", "LogConfig", Block(&LOGS)),
        f("service", "Services", List(&SERVICE)),
        f("artifact", "Artifacts", List(&ARTIFACT)),
        f("template", "Templates", List(&TEMPLATE)),
        f("volume_mount", "VolumeMounts", List(&VOLUME_MOUNT)),
        f("vault", "Vault", Block(&VAULT)),
        f("consul", "Consul", Block(&CONSUL)),
        f(
            "dispatch_payload",
            "DispatchPayload",
            Block(&DISPATCH_PAYLOAD),
        ),
        f("csi_plugin", "CSIPluginConfig", Block(&CSI_PLUGIN)),
        f("scaling", "ScalingPolicies", TaskScaling),
        write("identity", "Identity", Block(&IDENTITY)),
        f("identity", "Identities", List(&IDENTITY)),
        f("action", "Actions", Labeled(&ACTION, "Name")),
        f("secret", "Secrets", Labeled(&SECRET, "Name")),
    ],
};

static LIFECYCLE: Schema = Schema {
    post: None,
    fields: &[f("hook", "Hook", Str), f("sidecar", "Sidecar", Bool)],
};

static RESOURCES: Schema = Schema {
    post: None,
    fields: &[
        f("cpu", "CPU", Int),
        f("cores", "Cores", Int),
        f("memory", "MemoryMB", Int),
        f("memory_max", "MemoryMaxMB", Int),
        f("disk", "DiskMB", Int),
        f("iops", "IOPS", Int),
        f("secrets", "SecretsMB", Int),
        f("numa", "NUMA", Block(&NUMA)),
        f("network", "Networks", List(&NETWORK)),
        f("device", "Devices", Labeled(&DEVICE, "Name")),
    ],
};

static NUMA: Schema = Schema {
    post: None,
    fields: &[
        f("affinity", "Affinity", Str),
        f("devices", "Devices", StrList),
    ],
};

static DEVICE: Schema = Schema {
    post: None,
    fields: &[
        f("count", "Count", Int),
        f("constraint", "Constraints", List(&CONSTRAINT)),
        f("affinity", "Affinities", List(&AFFINITY)),
    ],
};

static NETWORK: Schema = Schema {
    post: Some(post_network),
    fields: &[
        f("mode", "Mode", Str),
        f("device", "Device", Str),
        f("cidr", "CIDR", Str),
        f("ip", "IP", Str),
        f("hostname", "Hostname", Str),
        f("mbits", "MBits", Int),
        f("dns", "DNS", Block(&DNS)),
        f("cni", "CNI", Block(&CNI)),
        read("reserved_ports", "ReservedPorts", Labeled(&PORT, "Label")),
        write("port", "ReservedPorts", Labeled(&PORT, "Label")),
        f("port", "DynamicPorts", Labeled(&PORT, "Label")),
    ],
};

static PORT: Schema = Schema {
    post: None,
    fields: &[
        f("static", "Value", Int),
        f("to", "To", Int),
        f("host_network", "HostNetwork", Str),
        f("ignore_collision", "IgnoreCollision", Bool),
    ],
};

static DNS: Schema = Schema {
    post: None,
    fields: &[
        f("servers", "Servers", StrList),
        f("searches", "Searches", StrList),
        f("options", "Options", StrList),
    ],
};

static CNI: Schema = Schema {
    post: None,
    fields: &[f("args", "Args", StrMap { block: false })],
};

static SERVICE: Schema = Schema {
    post: None,
    fields: &[
        f("name", "Name", Str),
        f("port", "PortLabel", Str),
        f("tags", "Tags", StrList),
        f("canary_tags", "CanaryTags", StrList),
        f("enable_tag_override", "EnableTagOverride", Bool),
        f("address_mode", "AddressMode", Str),
        f("address", "Address", Str),
        f("task", "TaskName", Str),
        f("on_update", "OnUpdate", Str),
        f("provider", "Provider", Str),
        f("cluster", "Cluster", Str),
        f("kind", "Kind", Str),
        f("meta", "Meta", StrMap { block: true }),
        f("canary_meta", "CanaryMeta", StrMap { block: true }),
        f(
            "tagged_addresses",
            "TaggedAddresses",
            StrMap { block: true },
        ),
        f("check", "Checks", List(&CHECK)),
        f("check_restart", "CheckRestart", Block(&CHECK_RESTART)),
        f("connect", "Connect", Block(&CONNECT)),
        f("identity", "Identity", Block(&IDENTITY)),
        f("weights", "Weights", Block(&WEIGHTS)),
    ],
};

static CHECK: Schema = Schema {
    post: None,
    fields: &[
        f("name", "Name", Str),
        f("type", "Type", Str),
        f("command", "Command", Str),
        f("args", "Args", StrList),
        f("path", "Path", Str),
        f("protocol", "Protocol", Str),
        f("port", "PortLabel", Str),
        f("expose", "Expose", Bool),
        f("address_mode", "AddressMode", Str),
        f("advertise", "Advertise", Str),
        f("interval", "Interval", Duration),
        f("timeout", "Timeout", Duration),
        f("initial_status", "InitialStatus", Str),
        f("notes", "Notes", Str),
        f("tls_server_name", "TLSServerName", Str),
        f("tls_skip_verify", "TLSSkipVerify", Bool),
        f("method", "Method", Str),
        f("body", "Body", Str),
        f("grpc_service", "GRPCService", Str),
        f("grpc_use_tls", "GRPCUseTLS", Bool),
        f("task", "TaskName", Str),
        f("success_before_passing", "SuccessBeforePassing", Int),
        f("failures_before_critical", "FailuresBeforeCritical", Int),
        f("failures_before_warning", "FailuresBeforeWarning", Int),
        f("on_update", "OnUpdate", Str),
        f("header", "Header", StrListMap),
        f("check_restart", "CheckRestart", Block(&CHECK_RESTART)),
    ],
};

static CHECK_RESTART: Schema = Schema {
    post: None,
    fields: &[
        f("limit", "Limit", Int),
        f("grace", "Grace", Duration),
        f("ignore_warnings", "IgnoreWarnings", Bool),
    ],
};

static WEIGHTS: Schema = Schema {
    post: None,
    fields: &[f("passing", "Passing", Int), f("warning", "Warning", Int)],
};

static CONNECT: Schema = Schema {
    post: None,
    fields: &[
        f("native", "Native", Bool),
        f("sidecar_service", "SidecarService", Block(&SIDECAR_SERVICE)),
        f("sidecar_task", "SidecarTask", Block(&SIDECAR_TASK)),
        f("gateway", "Gateway", Block(&GATEWAY)),
    ],
};

static SIDECAR_SERVICE: Schema = Schema {
    post: None,
    fields: &[
        f("port", "Port", Str),
        f("tags", "Tags", StrList),
        f("disable_default_tcp_check", "DisableDefaultTCPCheck", Bool),
        f("meta", "Meta", StrMap { block: true }),
        f("proxy", "Proxy", Block(&PROXY)),
    ],
};

static SIDECAR_TASK: Schema = Schema {
    post: None,
    fields: &[
        f("name", "Name", Str),
        f("driver", "Driver", Str),
        f("user", "User", Str),
        f("kill_timeout", "KillTimeout", Duration),
        f("kill_signal", "KillSignal", Str),
        f("shutdown_delay", "ShutdownDelay", Duration),
        f("config", "Config", Open),
        f("env", "Env", StrMap { block: true }),
        f("meta", "Meta", StrMap { block: true }),
        f("resources", "Resources", Block(&RESOURCES)),
        f("logs", "LogConfig", Block(&LOGS)),
        f("volume_mount", "VolumeMounts", List(&VOLUME_MOUNT)),
        f("identity", "Identities", List(&IDENTITY)),
    ],
};

static PROXY: Schema = Schema {
    post: None,
    fields: &[
        f("local_service_address", "LocalServiceAddress", Str),
        f("local_service_port", "LocalServicePort", Int),
        f("config", "Config", Open),
        f("upstreams", "Upstreams", List(&UPSTREAM)),
        f("expose", "Expose", Block(&EXPOSE)),
        f(
            "transparent_proxy",
            "TransparentProxy",
            Block(&TRANSPARENT_PROXY),
        ),
    ],
};

static UPSTREAM: Schema = Schema {
    post: None,
    fields: &[
        f("destination_name", "DestinationName", Str),
        f("destination_namespace", "DestinationNamespace", Str),
        f("destination_peer", "DestinationPeer", Str),
        f("destination_partition", "DestinationPartition", Str),
        f("destination_type", "DestinationType", Str),
        f("local_bind_port", "LocalBindPort", Int),
        f("local_bind_address", "LocalBindAddress", Str),
        f("local_bind_socket_path", "LocalBindSocketPath", Str),
        f("local_bind_socket_mode", "LocalBindSocketMode", Str),
        f("datacenter", "Datacenter", Str),
        f("mesh_gateway", "MeshGateway", Block(&MESH_GATEWAY)),
        f("config", "Config", Open),
    ],
};

static MESH_GATEWAY: Schema = Schema {
    post: None,
    fields: &[f("mode", "Mode", Str)],
};

static EXPOSE: Schema = Schema {
    post: None,
    fields: &[f("path", "Paths", List(&EXPOSE_PATH))],
};

static EXPOSE_PATH: Schema = Schema {
    post: None,
    fields: &[
        f("path", "Path", Str),
        f("protocol", "Protocol", Str),
        f("local_path_port", "LocalPathPort", Int),
        f("listener_port", "ListenerPort", Str),
    ],
};

static TRANSPARENT_PROXY: Schema = Schema {
    post: None,
    fields: &[
        f("uid", "UID", Str),
        f("outbound_port", "OutboundPort", Int),
        f("exclude_inbound_ports", "ExcludeInboundPorts", StrList),
        f("exclude_outbound_ports", "ExcludeOutboundPorts", IntList),
        f("exclude_outbound_cidrs", "ExcludeOutboundCIDRs", StrList),
        f("exclude_uids", "ExcludeUIDs", StrList),
        f("no_dns", "NoDNS", Bool),
    ],
};

static GATEWAY: Schema = Schema {
    post: None,
    fields: &[
        f("proxy", "Proxy", Block(&GATEWAY_PROXY)),
        f("ingress", "Ingress", Block(&INGRESS)),
        f("terminating", "Terminating", Block(&TERMINATING)),
        f("mesh", "Mesh", Block(&MESH_CONFIG)),
    ],
};

/// `mesh {}`: api.ConsulMeshConfigEntry has no fields (api/consul.go, v1.6.9).
static MESH_CONFIG: Schema = Schema {
    post: None,
    fields: &[],
};

static GATEWAY_PROXY: Schema = Schema {
    post: None,
    fields: &[
        f("connect_timeout", "ConnectTimeout", Duration),
        f(
            "envoy_gateway_bind_tagged_addresses",
            "EnvoyGatewayBindTaggedAddresses",
            Bool,
        ),
        f(
            "envoy_gateway_no_default_bind",
            "EnvoyGatewayNoDefaultBind",
            Bool,
        ),
        f("envoy_dns_discovery_type", "EnvoyDNSDiscoveryType", Str),
        f(
            "envoy_gateway_bind_addresses",
            "EnvoyGatewayBindAddresses",
            LabeledMap(&BIND_ADDRESS, "Name"),
        ),
        f("config", "Config", Open),
    ],
};

static BIND_ADDRESS: Schema = Schema {
    post: None,
    fields: &[f("address", "Address", Str), f("port", "Port", Int)],
};

static INGRESS: Schema = Schema {
    post: None,
    fields: &[
        f("tls", "TLS", Block(&GATEWAY_TLS)),
        f("listener", "Listeners", List(&LISTENER)),
    ],
};

static LISTENER: Schema = Schema {
    post: None,
    fields: &[
        f("port", "Port", Int),
        f("protocol", "Protocol", Str),
        f("service", "Services", List(&INGRESS_SERVICE)),
    ],
};

static INGRESS_SERVICE: Schema = Schema {
    post: None,
    fields: &[
        f("name", "Name", Str),
        f("hosts", "Hosts", StrList),
        f("max_connections", "MaxConnections", Int),
        f("max_pending_requests", "MaxPendingRequests", Int),
        f("max_concurrent_requests", "MaxConcurrentRequests", Int),
        f("tls", "TLS", Block(&GATEWAY_TLS)),
        f(
            "request_headers",
            "RequestHeaders",
            Block(&HEADER_MODIFIERS),
        ),
        f(
            "response_headers",
            "ResponseHeaders",
            Block(&HEADER_MODIFIERS),
        ),
    ],
};

static GATEWAY_TLS: Schema = Schema {
    post: None,
    fields: &[
        f("enabled", "Enabled", Bool),
        f("tls_min_version", "TLSMinVersion", Str),
        f("tls_max_version", "TLSMaxVersion", Str),
        f("cipher_suites", "CipherSuites", StrList),
        f("sds", "SDS", Block(&SDS)),
    ],
};

static SDS: Schema = Schema {
    post: None,
    fields: &[
        f("cluster_name", "ClusterName", Str),
        f("cert_resource", "CertResource", Str),
    ],
};

static HEADER_MODIFIERS: Schema = Schema {
    post: None,
    fields: &[
        f("add", "Add", StrMap { block: true }),
        f("set", "Set", StrMap { block: true }),
        f("remove", "Remove", StrList),
    ],
};

static TERMINATING: Schema = Schema {
    post: None,
    fields: &[f("service", "Services", List(&LINKED_SERVICE))],
};

static LINKED_SERVICE: Schema = Schema {
    post: None,
    fields: &[
        f("name", "Name", Str),
        f("ca_file", "CAFile", Str),
        f("cert_file", "CertFile", Str),
        f("key_file", "KeyFile", Str),
        f("sni", "SNI", Str),
    ],
};

static RESTART: Schema = Schema {
    post: None,
    fields: &[
        f("attempts", "Attempts", Int),
        f("interval", "Interval", Duration),
        f("delay", "Delay", Duration),
        f("mode", "Mode", Str),
        f("render_templates", "RenderTemplates", Bool),
    ],
};

static RESCHEDULE: Schema = Schema {
    post: None,
    fields: &[
        f("attempts", "Attempts", Int),
        f("interval", "Interval", Duration),
        f("delay", "Delay", Duration),
        f("delay_function", "DelayFunction", Str),
        f("max_delay", "MaxDelay", Duration),
        f("unlimited", "Unlimited", Bool),
    ],
};

static DISCONNECT: Schema = Schema {
    post: None,
    fields: &[
        f("lost_after", "LostAfter", Duration),
        f("stop_on_client_after", "StopOnClientAfter", Duration),
        f("replace", "Replace", Bool),
        f("reconcile", "Reconcile", Str),
    ],
};

static EPHEMERAL_DISK: Schema = Schema {
    post: None,
    fields: &[
        f("size", "SizeMB", Int),
        f("sticky", "Sticky", Bool),
        f("migrate", "Migrate", Bool),
    ],
};

static UPDATE: Schema = Schema {
    post: None,
    fields: &[
        f("max_parallel", "MaxParallel", Int),
        f("health_check", "HealthCheck", Str),
        f("min_healthy_time", "MinHealthyTime", Duration),
        f("healthy_deadline", "HealthyDeadline", Duration),
        f("progress_deadline", "ProgressDeadline", Duration),
        f("stagger", "Stagger", Duration),
        f("canary", "Canary", Int),
        f("auto_revert", "AutoRevert", Bool),
        f("auto_promote", "AutoPromote", Bool),
    ],
};

static MIGRATE: Schema = Schema {
    post: None,
    fields: &[
        f("max_parallel", "MaxParallel", Int),
        f("health_check", "HealthCheck", Str),
        f("min_healthy_time", "MinHealthyTime", Duration),
        f("healthy_deadline", "HealthyDeadline", Duration),
    ],
};

static MULTIREGION: Schema = Schema {
    post: None,
    fields: &[
        f("strategy", "Strategy", Block(&MULTIREGION_STRATEGY)),
        f("region", "Regions", Labeled(&MULTIREGION_REGION, "Name")),
    ],
};

static MULTIREGION_STRATEGY: Schema = Schema {
    post: None,
    fields: &[
        f("max_parallel", "MaxParallel", Int),
        f("on_failure", "OnFailure", Str),
    ],
};

static MULTIREGION_REGION: Schema = Schema {
    post: None,
    fields: &[
        f("count", "Count", Int),
        f("datacenters", "Datacenters", StrList),
        f("node_pool", "NodePool", Str),
        f("meta", "Meta", StrMap { block: true }),
    ],
};

static PERIODIC: Schema = Schema {
    post: Some(post_periodic),
    fields: &[
        f("cron", "Spec", Str),
        f("crons", "Specs", StrList),
        f("prohibit_overlap", "ProhibitOverlap", Bool),
        f("time_zone", "TimeZone", Str),
        f("enabled", "Enabled", Bool),
    ],
};

static PARAMETERIZED: Schema = Schema {
    post: None,
    fields: &[
        f("payload", "Payload", Str),
        f("meta_required", "MetaRequired", StrList),
        f("meta_optional", "MetaOptional", StrList),
    ],
};

static UI: Schema = Schema {
    post: None,
    fields: &[
        f("description", "Description", Str),
        f("link", "Links", List(&UI_LINK)),
    ],
};

static UI_LINK: Schema = Schema {
    post: None,
    fields: &[f("label", "Label", Str), f("url", "URL", Str)],
};

/// Shorthand operators of `constraint` and `affinity` (`distinct_hosts = true`,
/// `version = ">= 1.2"`, ...), read into internal keys and folded into
/// `Operand`/`RTarget`/`LTarget` the way jobspec2 does.
const SHORTHAND: &[&str] = &[
    "version",
    "semver",
    "regexp",
    "set_contains",
    "set_contains_all",
    "set_contains_any",
    "distinct_property",
    "distinct_hosts",
    "is_set",
    "is_not_set",
];

pub(crate) static CONSTRAINT: Schema = Schema {
    post: Some(post_constraint),
    fields: &[
        f("attribute", "LTarget", Str),
        f("operator", "Operand", Str),
        f("value", "RTarget", Str),
        read("version", " version", Str),
        read("semver", " semver", Str),
        read("regexp", " regexp", Str),
        read("set_contains", " set_contains", Str),
        read("set_contains_all", " set_contains_all", Str),
        read("set_contains_any", " set_contains_any", Str),
        read("distinct_property", " distinct_property", Str),
        read("distinct_hosts", " distinct_hosts", Bool),
        read("is_set", " is_set", Str),
        read("is_not_set", " is_not_set", Str),
    ],
};

pub(crate) static AFFINITY: Schema = Schema {
    post: Some(post_affinity),
    fields: &[
        f("attribute", "LTarget", Str),
        f("operator", "Operand", Str),
        f("value", "RTarget", Str),
        f("weight", "Weight", Int),
        read("version", " version", Str),
        read("semver", " semver", Str),
        read("regexp", " regexp", Str),
        read("set_contains", " set_contains", Str),
        read("set_contains_all", " set_contains_all", Str),
        read("set_contains_any", " set_contains_any", Str),
    ],
};

static SPREAD: Schema = Schema {
    post: None,
    fields: &[
        f("attribute", "Attribute", Str),
        f("weight", "Weight", Int),
        f("target", "SpreadTarget", Labeled(&SPREAD_TARGET, "Value")),
    ],
};

static SPREAD_TARGET: Schema = Schema {
    post: None,
    fields: &[f("percent", "Percent", Int)],
};

static VOLUME: Schema = Schema {
    post: None,
    fields: &[
        f("type", "Type", Str),
        f("source", "Source", Str),
        f("read_only", "ReadOnly", Bool),
        f("access_mode", "AccessMode", Str),
        f("attachment_mode", "AttachmentMode", Str),
        f("per_alloc", "PerAlloc", Bool),
        f("sticky", "Sticky", Bool),
        f("mount_options", "MountOptions", Block(&MOUNT_OPTIONS)),
    ],
};

static MOUNT_OPTIONS: Schema = Schema {
    post: None,
    fields: &[
        f("fs_type", "FSType", Str),
        f("mount_flags", "MountFlags", StrList),
    ],
};

static VOLUME_MOUNT: Schema = Schema {
    post: None,
    fields: &[
        f("volume", "Volume", Str),
        f("destination", "Destination", Str),
        f("read_only", "ReadOnly", Bool),
        f("propagation_mode", "PropagationMode", Str),
        f("selinux_label", "SELinuxLabel", Str),
    ],
};

static LOGS: Schema = Schema {
    post: None,
    fields: &[
        f("max_files", "MaxFiles", Int),
        f("max_file_size", "MaxFileSizeMB", Int),
        f("disabled", "Disabled", Bool),
        f("enabled", "Enabled", Bool),
    ],
};

static ARTIFACT: Schema = Schema {
    post: None,
    fields: &[
        f("source", "GetterSource", Str),
        f("destination", "RelativeDest", Str),
        f("mode", "GetterMode", Str),
        f("insecure", "GetterInsecure", Bool),
        f("chown", "Chown", Bool),
        f("options", "GetterOptions", StrMap { block: true }),
        f("headers", "GetterHeaders", StrMap { block: true }),
    ],
};

pub(crate) static VAULT: Schema = Schema {
    post: Some(post_vault),
    fields: &[
        f("policies", "Policies", StrList),
        f("role", "Role", Str),
        f("namespace", "Namespace", Str),
        f("cluster", "Cluster", Str),
        f("env", "Env", Bool),
        f("disable_file", "DisableFile", Bool),
        f("change_mode", "ChangeMode", Str),
        f("change_signal", "ChangeSignal", Str),
        f("allow_token_expiration", "AllowTokenExpiration", Bool),
    ],
};

static CONSUL: Schema = Schema {
    post: None,
    fields: &[
        f("namespace", "Namespace", Str),
        f("cluster", "Cluster", Str),
        f("partition", "Partition", Str),
    ],
};

static TEMPLATE: Schema = Schema {
    post: Some(post_template),
    fields: &[
        f("source", "SourcePath", Str),
        f("destination", "DestPath", Str),
        f("change_mode", "ChangeMode", Str),
        f("change_signal", "ChangeSignal", Str),
        f("splay", "Splay", Duration),
        f("perms", "Perms", Str),
        f("uid", "Uid", Int),
        f("gid", "Gid", Int),
        f("left_delimiter", "LeftDelim", Str),
        f("right_delimiter", "RightDelim", Str),
        f("env", "Envvars", Bool),
        f("vault_grace", "VaultGrace", Duration),
        f("error_on_missing_key", "ErrMissingKey", Bool),
        f("once", "Once", Bool),
        f("change_script", "ChangeScript", Block(&CHANGE_SCRIPT)),
        f("wait", "Wait", Block(&WAIT)),
        f("data", "EmbeddedTmpl", Str),
    ],
};

static CHANGE_SCRIPT: Schema = Schema {
    post: Some(post_change_script),
    fields: &[
        f("command", "Command", Str),
        f("args", "Args", StrList),
        f("timeout", "Timeout", Duration),
        f("fail_on_error", "FailOnError", Bool),
    ],
};

static WAIT: Schema = Schema {
    post: None,
    fields: &[f("min", "Min", Duration), f("max", "Max", Duration)],
};

static DISPATCH_PAYLOAD: Schema = Schema {
    post: None,
    fields: &[f("file", "File", Str)],
};

static CSI_PLUGIN: Schema = Schema {
    post: None,
    fields: &[
        f("id", "ID", Str),
        f("type", "Type", Str),
        f("mount_dir", "MountDir", Str),
        f("stage_publish_base_dir", "StagePublishBaseDir", Str),
        f("health_timeout", "HealthTimeout", Duration),
    ],
};

pub(crate) static SCALING: Schema = Schema {
    post: None,
    fields: SCALING_FIELDS,
};

const SCALING_FIELDS: &[Field] = &[
    f("enabled", "Enabled", Bool),
    f("type", "Type", Str),
    f("min", "Min", Int),
    f("max", "Max", Int),
    f("policy", "Policy", Open),
];

/// A group's `scaling` block: jobspec2's `decodeTaskGroup` sets `Type: "horizontal"` when
/// empty and `validateGroupScalingPolicy` requires `max` and refuses another type
/// (jobspec2/hcl_conversions.go, v1.6.9). A second `scaling` block in a group is refused
/// like any repeated single block (gohcl: "Duplicate scaling block").
static GROUP_SCALING: Schema = Schema {
    post: Some(post_group_scaling),
    fields: SCALING_FIELDS,
};

static IDENTITY: Schema = Schema {
    post: None,
    fields: &[
        f("name", "Name", Str),
        f("aud", "Audience", StrList),
        f("env", "Env", Bool),
        f("file", "File", Bool),
        f("filepath", "Filepath", Str),
        f("service_name", "ServiceName", Str),
        f("change_mode", "ChangeMode", Str),
        f("change_signal", "ChangeSignal", Str),
        f("ttl", "TTL", Duration),
        f("extra_claims", "ExtraClaims", StrList),
    ],
};

static ACTION: Schema = Schema {
    post: None,
    fields: &[f("command", "Command", Str), f("args", "Args", StrList)],
};

static SECRET: Schema = Schema {
    post: None,
    fields: &[
        f("provider", "Provider", Str),
        f("path", "Path", Str),
        f("config", "Config", Open),
        f("env", "Env", StrMap { block: true }),
    ],
};

// ---------------------------------------------------------------------------------------
// Normalisation after reading a block (Nomad's jobspec2 `normalizeJob` and custom decoders).

fn set_default(obj: &mut Map<String, Value>, key: &str, value: Value) {
    if obj.get(key).is_none_or(Value::is_null) {
        obj.insert(key.to_string(), value);
    }
}

fn take_str(obj: &mut Map<String, Value>, key: &str) -> Option<String> {
    match obj.remove(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        _ => None,
    }
}

fn post_constraint(obj: &mut Map<String, Value>) -> Result<(), String> {
    for op in ["version", "semver", "regexp", "set_contains"] {
        if let Some(v) = take_str(obj, &format!(" {op}")) {
            obj.insert("Operand".into(), Value::String(op.into()));
            obj.insert("RTarget".into(), Value::String(v));
        }
    }
    // jobspec2's decodeConstraint (jobspec2/hcl_conversions.go, v1.6.9): any distinct_hosts
    // value sets the operator, and RTarget is the value as text ("true" or "false").
    if let Some(Value::Bool(b)) = obj.remove(" distinct_hosts") {
        obj.insert("Operand".into(), Value::String("distinct_hosts".into()));
        obj.insert("RTarget".into(), Value::String(b.to_string()));
    }
    if let Some(v) = take_str(obj, " distinct_property") {
        obj.insert("Operand".into(), Value::String("distinct_property".into()));
        obj.insert("LTarget".into(), Value::String(v));
    }
    // Accepted but not used by jobspec2.
    for op in SHORTHAND {
        obj.remove(&format!(" {op}"));
    }
    if obj.get("Operand").is_none_or(|v| v.as_str() == Some("")) {
        obj.insert("Operand".into(), Value::String("=".into()));
    }
    Ok(())
}

fn post_affinity(obj: &mut Map<String, Value>) -> Result<(), String> {
    for op in [
        "version",
        "semver",
        "regexp",
        "set_contains_any",
        "set_contains_all",
        "set_contains",
    ] {
        if let Some(v) = take_str(obj, &format!(" {op}")) {
            obj.insert("Operand".into(), Value::String(op.into()));
            obj.insert("RTarget".into(), Value::String(v));
        }
    }
    if obj.get("Operand").is_none_or(|v| v.as_str() == Some("")) {
        obj.insert("Operand".into(), Value::String("=".into()));
    }
    Ok(())
}

fn post_network(obj: &mut Map<String, Value>) -> Result<(), String> {
    let Some(Value::Array(ports)) = obj.remove("DynamicPorts") else {
        return Ok(());
    };
    let mut dynamic = Vec::new();
    let mut reserved = match obj.remove("ReservedPorts") {
        Some(Value::Array(r)) => r,
        _ => Vec::new(),
    };
    for p in ports {
        if p.get("Value")
            .and_then(Value::as_i64)
            .is_some_and(|v| v > 0)
        {
            reserved.push(p);
        } else {
            dynamic.push(p);
        }
    }
    if !reserved.is_empty() {
        obj.insert("ReservedPorts".into(), Value::Array(reserved));
    }
    if !dynamic.is_empty() {
        obj.insert("DynamicPorts".into(), Value::Array(dynamic));
    }
    Ok(())
}

fn post_template(obj: &mut Map<String, Value>) -> Result<(), String> {
    set_default(obj, "ChangeMode", Value::String("restart".into()));
    set_default(obj, "Perms", Value::String("0644".into()));
    set_default(obj, "Splay", Value::from(5_000_000_000i64));
    set_default(obj, "ErrMissingKey", Value::Bool(false));
    Ok(())
}

fn post_change_script(obj: &mut Map<String, Value>) -> Result<(), String> {
    set_default(obj, "Args", Value::Array(Vec::new()));
    set_default(obj, "Timeout", Value::from(5_000_000_000i64));
    set_default(obj, "FailOnError", Value::Bool(false));
    Ok(())
}

fn post_vault(obj: &mut Map<String, Value>) -> Result<(), String> {
    set_default(obj, "Env", Value::Bool(true));
    set_default(obj, "DisableFile", Value::Bool(false));
    set_default(obj, "ChangeMode", Value::String("restart".into()));
    Ok(())
}

fn post_periodic(obj: &mut Map<String, Value>) -> Result<(), String> {
    if obj.contains_key("Spec") || obj.contains_key("Specs") {
        obj.insert("SpecType".into(), Value::String("cron".into()));
    }
    Ok(())
}

fn post_group_scaling(obj: &mut Map<String, Value>) -> Result<(), String> {
    let explicit = obj.get("Type").and_then(Value::as_str).map(str::to_string);
    match explicit.as_deref() {
        None | Some("") => {
            obj.insert("Type".into(), Value::String("horizontal".into()));
        }
        Some("horizontal") => {}
        Some(t) => {
            return Err(format!(
                "invalid group scaling type: task group scaling policy had invalid type {t:?} (only \"horizontal\")"
            ))
        }
    }
    if obj.get("Max").is_none_or(Value::is_null) {
        return Err(
            "missing required argument: the argument \"max\" is required in a group scaling block"
                .into(),
        );
    }
    Ok(())
}

fn post_group(obj: &mut Map<String, Value>) -> Result<(), String> {
    if let Some(vault) = obj.remove(GROUP_VAULT) {
        if let Some(Value::Array(tasks)) = obj.get_mut("Tasks") {
            for task in tasks.iter_mut().filter_map(Value::as_object_mut) {
                if task.get("Vault").is_none_or(Value::is_null) {
                    task.insert("Vault".into(), vault.clone());
                }
            }
        }
    }
    Ok(())
}

fn post_task(obj: &mut Map<String, Value>) -> Result<(), String> {
    // The default identity (unnamed or "default") moves to `Identity`, as jobspec2 does for
    // pre-1.7 agents.
    if let Some(Value::Array(ids)) = obj.get_mut("Identities") {
        let pos = ids.iter().position(|id| {
            matches!(
                id.get("Name").and_then(Value::as_str),
                None | Some("") | Some("default")
            )
        });
        if let Some(pos) = pos {
            let id = ids.remove(pos);
            let empty = ids.is_empty();
            if empty {
                obj.remove("Identities");
            }
            obj.insert("Identity".into(), id);
        }
    }
    if let Some(Value::Array(policies)) = obj.get_mut("ScalingPolicies") {
        let mut seen: Vec<String> = Vec::new();
        for p in policies.iter_mut().filter_map(Value::as_object_mut) {
            let label = p
                .remove(TASK_SCALING_LABEL)
                .and_then(|v| v.as_str().map(str::to_lowercase));
            // jobspec2's decodeTaskScalingPolicies (hcl_conversions.go, v1.6.9): labels are
            // compared lower-cased; a second block with the same one is an error.
            if let Some(l) = &label {
                if seen.contains(l) {
                    return Err(format!(
                        "duplicate scaling {l:?} block: only one scaling {l} block is allowed"
                    ));
                }
                seen.push(l.clone());
            }
            let ty = match label.as_deref() {
                Some("cpu") => "vertical_cpu",
                Some("mem") => "vertical_mem",
                other => {
                    return Err(format!(
                        "scaling policy name must be \"cpu\" or \"mem\", got {:?}",
                        other.unwrap_or("")
                    ))
                }
            };
            match p.get("Type").and_then(Value::as_str) {
                None | Some("") => {
                    p.insert("Type".into(), Value::String(ty.into()));
                }
                Some(t) if t == ty => {}
                Some(t) => {
                    return Err(format!(
                        "scaling policy type {t:?} does not match its name ({ty})"
                    ))
                }
            }
        }
    }
    Ok(())
}

/// Internal key holding the label of a task `scaling` block until `post_task` reads it.
pub(crate) const TASK_SCALING_LABEL: &str = " label";

/// The HCL label of a task scaling policy, from its `Type`.
pub(crate) fn task_scaling_label(ty: &str) -> Option<&'static str> {
    match ty {
        "vertical_cpu" => Some("cpu"),
        "vertical_mem" => Some("mem"),
        _ => None,
    }
}
