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
//! # Expressions, variables and functions
//!
//! References to `var.*` and `local.*` are evaluated: `variable` blocks (with `type`,
//! `default`, `validation`), `variables {}` and `locals {}` blocks, and values from outside
//! given in [`HclOptions`] as `nomad job run` takes them (`-var`, `-var-file`,
//! `NOMAD_VAR_<name>`, with Nomad's precedence and type conversion). Every other reference
//! is kept as the text Nomad interpolates at run time, exactly as jobspec2 does:
//! `"${NOMAD_PORT_http}"`, `"http://${attr.unique.network.ip-address}:80"` and even a bare
//! `attr.kernel.name` become those strings. Operators, conditionals, `for` expressions,
//! splats, template directives, `dynamic` blocks (`for_each`, `iterator`, `labels`,
//! `content`) and Nomad's function table (go-cty's stdlib, hashes, uuids, cidr, encodings,
//! dates, `try`/`can`/`convert`) are evaluated; the filesystem functions only when
//! [`HclOptions::allow_fs`] allows them. An unknown function is an error naming it.
//!
//! Evaluation is bounded ([`HclLimits`]): the size of any value, the sum of all values, the
//! number of steps and the depth of locals using locals (ordered by a topological sort). An
//! input over a limit is refused quickly with an error naming the local or attribute.
//!
//! # Unknown keys
//!
//! Reading is strict by default, as `nomad job run` is: an argument or block the table does
//! not know is a [`ParseError`] of kind [`ParseErrorKind::UnknownField`] naming its path and
//! the closest known name (`job[x].group[g].task[t]: unknown argument "kill_timout" (did you
//! mean "kill_timeout"?)`). Driver `config`, `meta`, `env` and the other open maps stay open.
//! With [`HclOptions::allow_unknown`] unknown names are kept under a generic name:
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
mod eval;
pub(crate) mod functions;
mod names;
mod schema;
mod syntax;
mod values;
mod vars;

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::{Format, ParseError, ParseErrorKind};

#[doc(hidden)]
pub use functions::test_hook as functions_test_hook;

/// This reader's evaluation of a whole HCL body, in the form the test checker dumps
/// HashiCorp's reading of the same file; tests compare the two. Not part of the stable API.
#[doc(hidden)]
pub fn dump_body_for_tests(text: &str) -> crate::Result<Value> {
    decode::dump_body(text)
        .map_err(|m| crate::error::ParseError::new(crate::error::Format::Hcl, m).into())
}
pub use names::{
    format_duration, is_hcl_name, is_identifier, parse_duration, pascal_case, snake_case,
    InvalidDuration,
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

/// Bounds on reading one jobspec, so that no input can make the reader run long or use much
/// memory. Exceeding one is a [`ParseError`] of kind [`ParseErrorKind::Limit`] naming the
/// local or attribute being evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HclLimits {
    /// Largest single evaluated value, measured as the memory it takes (its strings and keys
    /// plus the size of every value and object entry) (4 MiB). Function results and files
    /// read by `file()` count too.
    pub max_value_bytes: usize,
    /// Largest sum of all values evaluated while reading the jobspec (64 MiB).
    pub max_total_bytes: usize,
    /// Most evaluation steps: references, operators, function calls, and each iteration of a
    /// `for` expression, template `for` directive, splat or `dynamic` block (1,000,000).
    pub max_steps: u64,
    /// Longest chain of locals each using the next (100).
    pub max_locals_depth: usize,
}

impl Default for HclLimits {
    fn default() -> Self {
        HclLimits {
            max_value_bytes: 4 << 20,
            max_total_bytes: 64 << 20,
            max_steps: 1_000_000,
            max_locals_depth: 100,
        }
    }
}

/// How to read a jobspec: the choices `nomad job run` offers (`-var`, `-var-file`,
/// `NOMAD_VAR_<name>`, strict parsing, filesystem functions) and the evaluation limits.
///
/// ```
/// use istio_nomad_core::nomad::hcl::{jobspec_to_api_with, HclOptions};
///
/// let text = r#"
/// variable "image" { type = string }
/// variable "count" { default = 1 }
/// job "web" {
///   group "g" {
///     count = var.count
///     task "t" {
///       driver = "docker"
///       config { image = var.image }
///     }
///   }
/// }"#;
/// let opts = HclOptions::new()
///     .var("image", "nginx:1.27")
///     .env([("NOMAD_VAR_count", "3")]);
/// let job = jobspec_to_api_with(text, &opts).unwrap();
/// assert_eq!(job["TaskGroups"][0]["Count"], 3);
/// assert_eq!(job["TaskGroups"][0]["Tasks"][0]["Config"]["image"], "nginx:1.27");
/// ```
#[derive(Clone, Default)]
pub struct HclOptions {
    /// Keep arguments and blocks the schema does not know (for fields newer than it) under
    /// a generic PascalCase key instead of refusing them.
    pub allow_unknown: bool,
    /// `-var name=value` values, in order (a later one for the same name wins).
    pub variables: Vec<(String, String)>,
    /// `-var-file` files (HCL, or JSON when the text starts with `{`), in order.
    pub var_files: Vec<PathBuf>,
    /// Environment entries; those named `NOMAD_VAR_<name>` give variable values. Empty unless
    /// set: the process environment is read only through [`HclOptions::process_env`].
    pub env: Vec<(String, String)>,
    /// Allow the filesystem functions (`file`, `fileexists`, `fileset`, `filebase64`,
    /// `abspath`, `basename`, `dirname`, `pathexpand`).
    pub allow_fs: bool,
    /// The folder relative paths of filesystem functions start from (the job file's folder
    /// when read with [`crate::nomad::Job::from_file_with`]; else the current folder).
    pub base_dir: Option<PathBuf>,
    /// Evaluation limits.
    pub limits: HclLimits,
}

impl std::fmt::Debug for HclOptions {
    // Variable values and the environment may hold secrets: only names are shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HclOptions")
            .field("allow_unknown", &self.allow_unknown)
            .field(
                "variables",
                &self.variables.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("var_files", &self.var_files)
            .field("env", &format_args!("[{} entries]", self.env.len()))
            .field("allow_fs", &self.allow_fs)
            .field("base_dir", &self.base_dir)
            .field("limits", &self.limits)
            .finish()
    }
}

impl HclOptions {
    /// Strict reading, no variables, no filesystem functions, default limits.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps unknown arguments and blocks instead of refusing them.
    #[must_use]
    pub fn allow_unknown(mut self, yes: bool) -> Self {
        self.allow_unknown = yes;
        self
    }

    /// A `-var name=value` value.
    #[must_use]
    pub fn var(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.variables.push((name.into(), value.into()));
        self
    }

    /// A `-var` argument as written on the command line: `name=value`.
    ///
    /// # Errors
    ///
    /// A [`ParseError`] of kind [`ParseErrorKind::Variable`] when there is no `=` or no name.
    pub fn var_arg(self, arg: &str) -> Result<Self, ParseError> {
        match arg.split_once('=') {
            Some((name, value)) if !name.is_empty() => Ok(self.var(name, value)),
            _ => Err(ParseError::new(
                Format::Hcl,
                format!("a -var argument must have the form name=value (got {arg:?})"),
            )
            .kind(ParseErrorKind::Variable)),
        }
    }

    /// A `-var-file`.
    #[must_use]
    pub fn var_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.var_files.push(path.into());
        self
    }

    /// Environment entries to take `NOMAD_VAR_<name>` values from (replacing earlier ones).
    #[must_use]
    pub fn env<I, K, V>(mut self, entries: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.env = entries
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        self
    }

    /// Takes the `NOMAD_VAR_<name>` entries of this process's environment, as the nomad CLI
    /// does (entries that are not UTF-8 are skipped).
    #[must_use]
    pub fn process_env(mut self) -> Self {
        self.env = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .filter(|(k, _)| k.starts_with(vars::ENV_PREFIX))
            .collect();
        self
    }

    /// Allows the filesystem functions.
    #[must_use]
    pub fn allow_fs(mut self, yes: bool) -> Self {
        self.allow_fs = yes;
        self
    }

    /// The folder filesystem functions read relative to.
    #[must_use]
    pub fn base_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.base_dir = Some(dir.into());
        self
    }

    /// Evaluation limits.
    #[must_use]
    pub fn limits(mut self, limits: HclLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The folder filesystem functions use, when they are allowed.
    fn fs_dir(&self) -> Option<&Path> {
        if !self.allow_fs {
            return None;
        }
        Some(self.base_dir.as_deref().unwrap_or(Path::new(".")))
    }
}

/// Reads an HCL2 jobspec into Nomad API JSON (the bare `Job` object), strictly and without
/// variable values from outside (see [`jobspec_to_api_with`]).
///
/// # Errors
///
/// A [`ParseError`] (format HCL) for invalid HCL (with its line), a value of the wrong type
/// (with the field path, e.g. `job[web].group[api].count`, and line), an unknown argument or
/// block, a missing or second `job` block, an unset variable, or an expression that cannot
/// be evaluated; its [`ParseErrorKind`] tells which.
pub fn jobspec_to_api(text: &str) -> Result<Value, ParseError> {
    decode::decode(text, &HclOptions::default())
}

/// Reads an HCL2 jobspec with options: variable values, strictness, filesystem functions,
/// limits.
///
/// # Errors
///
/// As [`jobspec_to_api`]; also a `-var` or var-file value for a variable the jobspec does not
/// declare, a value that does not convert to its variable's type, or a var file that cannot
/// be read.
pub fn jobspec_to_api_with(text: &str, opts: &HclOptions) -> Result<Value, ParseError> {
    decode::decode(text, opts)
}

/// Like [`jobspec_to_api`], with values for the jobspec's `variable` blocks given as JSON
/// values: a string is taken as `-var name=value` text, any other value as its JSON text
/// (which reads as the same HCL value).
///
/// # Errors
///
/// As [`jobspec_to_api_with`].
pub fn jobspec_to_api_with_vars(
    text: &str,
    vars: &Map<String, Value>,
) -> Result<Value, ParseError> {
    let mut opts = HclOptions::default();
    for (k, v) in vars {
        let text = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        opts.variables.push((k.clone(), text));
    }
    decode::decode(text, &opts)
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
