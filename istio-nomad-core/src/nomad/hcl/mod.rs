//! HCL2 jobspecs <-> Nomad API JSON, both ways, at the JSON value level.
//!
//! [`jobspec_to_api`] reads a jobspec the way Nomad's `jobspec2` parser maps HCL onto the
//! `api` structs and returns the job as Nomad API JSON (the bare `Job` object that
//! `POST /v1/jobs/parse` returns: PascalCase keys, durations in nanoseconds).
//! [`api_to_jobspec`] renders such JSON back into a readable jobspec that `nomad job run`
//! accepts. The typed model reads and writes through these:
//! `serde_json::from_value(jobspec_to_api(text)?)` and
//! `api_to_jobspec(&serde_json::to_value(job)?)`.
//!
//! # Conversion table
//!
//! Names follow the `hcl` tags of Nomad's Go `api` structs. The main renames:
//!
//! | HCL | JSON |
//! |---|---|
//! | `job "x"` label | `ID` (an `id` attribute wins); `Name` defaults to the label |
//! | `group "x"`, `task "x"`, `action "x"`, `secret "x"`, `device "x"`, multiregion `region "x"` labels | `Name` |
//! | `group` / `task` / `service` / `check` / `constraint` / `affinity` / `spread` / `template` / `artifact` / `network` / `volume_mount` / `upstreams` / expose `path` blocks | lists `TaskGroups` / `Tasks` / `Services` / `Checks` / `Constraints` / `Affinities` / `Spreads` / `Templates` / `Artifacts` / `Networks` / `VolumeMounts` / `Upstreams` / `Paths` |
//! | `spread { target "r1" { percent = 40 } }` | `SpreadTarget: [{Value: "r1", Percent: 40}]` |
//! | `volume "x" {}` | `Volumes: {"x": {Name: "x", ...}}` |
//! | `port "http" { static = 8080, to = 80, host_network = "x" }` | `ReservedPorts` when `static > 0`, else `DynamicPorts`: `{Label, Value, To, HostNetwork}` |
//! | `port` in `service` and `check` | `PortLabel` |
//! | `task` in `service` and `check` | `TaskName` |
//! | `restart` / `reschedule` | `RestartPolicy` / `ReschedulePolicy` in a group, but job-level `reschedule` is `Reschedule` |
//! | `logs { max_file_size }` | `LogConfig { MaxFileSizeMB }` |
//! | `ephemeral_disk { size }` | `EphemeralDisk { SizeMB }` |
//! | `resources { cpu, memory, memory_max, disk, secrets }` | `CPU`, `MemoryMB`, `MemoryMaxMB`, `DiskMB`, `SecretsMB` |
//! | `template { source, destination, data, env, left_delimiter, right_delimiter, error_on_missing_key }` | `SourcePath`, `DestPath`, `EmbeddedTmpl`, `Envvars`, `LeftDelim`, `RightDelim`, `ErrMissingKey` |
//! | `artifact { source, destination, mode, options, headers, insecure }` | `GetterSource`, `RelativeDest`, `GetterMode`, `GetterOptions`, `GetterHeaders`, `GetterInsecure` |
//! | `constraint` / `affinity` `{ attribute, value, operator }` | `LTarget`, `RTarget`, `Operand` (`"="` when not given; shorthands such as `distinct_hosts = true` or `version = ">= 1"` fold into `Operand`) |
//! | `parameterized` | `ParameterizedJob` |
//! | `periodic { cron, crons }` | `Periodic { Spec, Specs, SpecType: "cron" }` |
//! | `identity {}` in a task | unnamed or `"default"` -> `Identity`, named -> `Identities` |
//! | `scaling "cpu"` / `scaling "mem"` in a task | `ScalingPolicies` with `Type` `vertical_cpu` / `vertical_mem`; a group `scaling` gets `Type: "horizontal"` |
//! | `check { header { X = ["a"] } }` | `Header: {"X": ["a"]}` |
//! | `dns { servers }`, `transparent_proxy { uid, exclude_uids, exclude_outbound_cidrs, no_dns }` | `DNS { Servers }`, `TransparentProxy { UID, ExcludeUIDs, ExcludeOutboundCIDRs, NoDNS }` |
//! | `ui { link { label, url } }` | `UI { Links: [{Label, URL}] }` |
//!
//! Every duration field (`interval`, `timeout`, `delay`, `max_delay`, `min_healthy_time`,
//! `healthy_deadline`, `progress_deadline`, `stagger`, `kill_timeout`, `shutdown_delay`,
//! `splay`, `grace`, wait `min`/`max`, `lost_after`, `ttl`, ...) is a Go duration string in
//! HCL and integer nanoseconds in JSON; it is written back as the shortest exact Go form
//! (`"30s"`, `"1h30m"`, `"100ms"`, see [`format_duration`]).
//!
//! `meta` and `env` may be blocks or map attributes; values become strings (`10` -> `"10"`).
//! Scalars convert the way HCL converts types (`mbits = "100"` -> `100`); a value that does
//! not convert (`count = "three"`) is a [`ParseError`] naming the field
//! (`job[x].group[y].count`) and its line.
//!
//! **Driver `config`** (and proxy/upstream `config`, scaling `policy`, secret `config`) is an
//! open map: keys are kept as written, nested blocks become lists of objects
//! (`mount { ... }` -> `"mount": [{...}]`, labels nest as `{label: [{...}]}`), as jobspec2
//! does. One deviation: jobspec2 also wraps an object written as an attribute
//! (`auth = { ... }`) in a one-element list; here it stays an object, so that JSON objects
//! in a driver config survive a round trip (drivers accept both shapes).
//!
//! **Normalisation** copied from jobspec2: job-level `vault` and job-level `task` blocks
//! (a task becomes its own group), group-level `vault` copied into tasks without one,
//! `vault` defaults (`Env: true`, `DisableFile: false`, `ChangeMode: "restart"`), `template`
//! defaults (`ChangeMode: "restart"`, `Perms: "0644"`, `Splay: 5s`, `ErrMissingKey: false`),
//! `change_script` defaults, ports split into reserved and dynamic.
//!
//! # Expressions
//!
//! References to `var.*` and `local.*` are evaluated (`variable` blocks with a `default`, or
//! values passed to [`jobspec_to_api_with_vars`]; `variables {}` and `locals {}` blocks).
//! Every other reference is kept as the text Nomad interpolates at run time, exactly as
//! jobspec2 does: `"${NOMAD_PORT_http}"`, `"http://${attr.unique.network.ip-address}:80"`
//! and even a bare `attr.kernel.name` become those strings. Conditionals, arithmetic and
//! `for` expressions over variables are evaluated; function calls (`upper(...)`,
//! `file(...)`) and `dynamic` blocks are not supported and give a [`ParseError`].
//!
//! # Unknown keys
//!
//! Attributes and blocks the table does not know are kept under a generic name:
//! `snake_case` -> `PascalCase` with Go initialisms (`ID`, `CPU`, `MB`, `TLS`, `DNS`, `URL`,
//! `HTTP`, `GRPC`, `TTL`, `IP`, `UID`, `GID`, `CIDR`, ... see [`pascal_case`]). One block
//! becomes an object, repeated or labeled blocks a list (a label is stored as `Name`).
//! The reverse rule writes an unknown key back under the first HCL name that reads as the
//! same key and is not a known field of that block: `snake_case(key)` when it maps back
//! (`MaxTTL` -> `max_ttl`), else the key itself with each `_` doubled (`Uid` -> `Uid`, a
//! group's `Reschedule` -> `Reschedule`, since `reschedule` there is the group's reschedule
//! policy). A key that no name reads back as (`foo`, `a.b`) is a typed error naming it;
//! objects whose keys have no HCL spelling, and lists of one object, are written as
//! attributes holding the value as written.
//!
//! # The HCL text
//!
//! What [`api_to_jobspec`] writes parses with HashiCorp's HCL library (hclsyntax, the parser
//! of Nomad's jobspec2) and reads back there as the same values; the test `hcl_hashicorp`
//! runs HashiCorp's parser on every rendered file. In particular:
//!
//! - a heredoc is only ever a whole attribute value (HCL ends a heredoc only at a line
//!   holding its marker alone, so `args = [<<EOT ... EOT]` does not parse), and only for
//!   text it carries byte for byte: text with `\r` or control characters other than tab is
//!   a quoted string with escapes (`"a\r\nb"`);
//! - quoted strings use only HCL's escapes (`\\ \" \n \r \t \uXXXX`), and a literal `${` or
//!   `%{` is written `$${` / `%%{`; `${...}` stays a template only when it is a reference
//!   Nomad interpolates at run time and reads back unchanged;
//! - block labels are quoted the same way; object keys that are not identifiers (or are
//!   `true`, `false`, `null`) are quoted strings; attribute and block names follow
//!   hclsyntax's identifier rule ([`is_hcl_name`], Unicode 9.0 letters included);
//! - a periodic job's `SpecType` is not written: jobspec2 sets `"cron"` itself whenever
//!   `cron` or `crons` is given and has no argument for it.
//!
//! One thing no HCL text can carry: Nomad reads every string through go-cty, which
//! normalizes it to Unicode NFC (`"e\u0301"` becomes `"\u00e9"`).
//!
//! # Null and empty values
//!
//! `null` and a missing key are the same (Nomad fills a server default for both): nulls are
//! not written, so `api -> HCL -> api` drops them. Every non-null value is written, even
//! `""`, `0`, `false` and `{}`. An empty list of blocks (`"Constraints": []`) is the same as
//! a missing one. Inside open maps (`config`) nulls are kept (`key = null`). A reserved
//! port with `Value: 0` reads back as dynamic.
//!
//! # Server-only fields
//!
//! [`api_to_jobspec`] drops the fields Nomad sets itself, listed in [`SERVER_ONLY_FIELDS`].
//!
//! # Limits
//!
//! Blocks and expressions may nest at most [`MAX_NESTING_DEPTH`] levels (the HCL parser
//! refuses deeper input with an error, never a stack overflow). Parsing is linear in the
//! input size.

mod decode;
mod encode;
pub(crate) mod functions;
mod names;
mod schema;

use serde_json::{Map, Value};

use crate::error::{Format, ParseError};

#[doc(hidden)]
pub use functions::test_hook as functions_test_hook;
pub use names::{
    format_duration, is_hcl_name, is_identifier, parse_duration, pascal_case, snake_case,
};

/// How deep blocks and expressions may nest.
pub const MAX_NESTING_DEPTH: usize = 64;

/// Job fields that Nomad sets itself; [`api_to_jobspec`] does not write them.
pub const SERVER_ONLY_FIELDS: &[&str] = &[
    "Status",
    "StatusDescription",
    "Stable",
    "Version",
    "VersionTag",
    "SubmitTime",
    "CreateIndex",
    "ModifyIndex",
    "JobModifyIndex",
    "Stop",
    "ParentID",
    "Dispatched",
    "DispatchIdempotencyToken",
    "Payload",
    "NomadTokenID",
];

/// Reads an HCL2 jobspec into Nomad API JSON (the bare `Job` object).
///
/// # Errors
///
/// A [`ParseError`] (format HCL) for invalid HCL (with its line), a value of the wrong type
/// (with the field path, e.g. `job[web].group[api].count`, and line), a missing or second
/// `job` block, an unset variable, or an expression that cannot be evaluated.
pub fn jobspec_to_api(text: &str) -> Result<Value, ParseError> {
    decode::decode(text, &Map::new())
}

/// Like [`jobspec_to_api`], with values for the jobspec's `variable` blocks (what
/// `nomad job run -var name=value` gives).
///
/// # Errors
///
/// As [`jobspec_to_api`]; also a value given for a variable the jobspec does not declare.
pub fn jobspec_to_api_with_vars(
    text: &str,
    vars: &Map<String, Value>,
) -> Result<Value, ParseError> {
    decode::decode(text, vars)
}

/// Like [`jobspec_to_api`] for raw bytes.
///
/// # Errors
///
/// A [`ParseError`] naming the byte offset (and line) of the first invalid UTF-8 sequence,
/// or any error of [`jobspec_to_api`].
pub fn jobspec_bytes_to_api(bytes: &[u8]) -> Result<Value, ParseError> {
    match std::str::from_utf8(bytes) {
        Ok(text) => jobspec_to_api(text),
        Err(e) => {
            let offset = e.valid_up_to();
            let line = bytes[..offset].iter().filter(|b| **b == b'\n').count() + 1;
            Err(ParseError::new(
                Format::Hcl,
                format!("invalid UTF-8 at byte offset {offset}"),
            )
            .line(line))
        }
    }
}

/// Renders Nomad API JSON (a bare job, or `{"Job": {...}}`) as an HCL2 jobspec.
///
/// The output is deterministic: attributes before blocks, fields in a fixed order, unknown
/// keys after known ones in their input order.
///
/// # Errors
///
/// [`crate::Error::Validation`] naming the field when a value has the wrong JSON type
/// (`"Count": "3"`), a job has neither `ID` nor `Name`, or a key has no HCL spelling.
pub fn api_to_jobspec(job: &Value) -> Result<String, crate::Error> {
    encode::encode(job)
}
