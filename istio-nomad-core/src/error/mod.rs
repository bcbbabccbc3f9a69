//! Error types shared by every layer.
//!
//! Each layer has its own error type, and [`Error`] gathers them so that a caller (and the
//! Python and C bindings) can tell a bad spec from a refused rule set from "Nomad said 403".
//! [`Error::kind`] names the family as an [`ErrorKind`], a plain enum without a catch-all, from
//! which the C result codes and the Python exception classes are derived by exhaustive `match`:
//! a new kind does not compile until every binding has a code for it.
//!
//! | kind | variant | meaning |
//! |---|---|---|
//! | parse | [`Error::Parse`] | the text is not valid HCL/JSON, or a value has the wrong type |
//! | validation | [`Error::Validation`] | the input parsed but breaks a rule; every problem is listed with its path |
//! | iptables | [`Error::Iptables`] | an interception rule set could not be built, read or applied |
//! | backend | [`Error::Backend`] | a Nomad, Consul or etcd call failed (status code and server message kept) |
//! | conflict | [`Error::Conflict`] | another operator holds the lock or changed the state first ([`ConflictError`] says which) |
//! | install | [`Error::Install`] | a job of an apply or destroy failed: deployment failed, deadline, host-mode collision |
//! | io | [`Error::Io`] | a local file could not be read or written |
//! | encode | [`Error::Encode`] | a value could not be written as JSON (a record of the state, an undo record) |

pub mod backend;
pub mod install;
pub mod iptables;
pub mod json;

use std::fmt;
use std::path::PathBuf;

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The input format a [`ParseError`] refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// HCL2 (jobspecs and mesh specs).
    Hcl,
    /// JSON (Nomad API bodies and mesh specs).
    Json,
    /// `KEY=VALUE` environment files (`sidecar.env`, `cluster.env`) and command-line flags.
    Env,
    /// `iptables-save` output.
    IptablesSave,
    /// A document given as data rather than text (a Python `dict`): its errors name the
    /// value's path, not a line.
    Value,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Hcl => "HCL",
            Format::Json => "JSON",
            Format::Env => "env",
            Format::IptablesSave => "iptables-save",
            Format::Value => "value",
        })
    }
}

/// Which evaluation limit a jobspec exceeded (see `nomad::hcl::HclLimits`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Limit {
    /// One evaluated value is larger than `max_value_bytes`.
    ValueSize,
    /// All evaluated values together are larger than `max_total_bytes`.
    TotalBytes,
    /// Evaluation took more than `max_steps` steps.
    Steps,
    /// A chain of locals, each using the next, is longer than `max_locals_depth`.
    LocalsDepth,
    /// Blocks, expressions or values nest deeper than the parser or evaluator allows.
    Nesting,
}

/// What kind of problem a [`ParseError`] reports, for callers that branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The text is not valid (HCL or JSON syntax, invalid UTF-8) or its structure is wrong
    /// (a missing `job` block, a block where an attribute belongs).
    Invalid,
    /// A value has the wrong type or form (`count = "three"`, `interval = "3 parsecs"`).
    Type,
    /// An argument or block the jobspec schema does not know (strict reading).
    UnknownField,
    /// A call to a function that does not exist.
    UnknownFunction,
    /// A function refused its arguments (wrong number, wrong type) or failed.
    FunctionCall,
    /// A filesystem function (`file`, `fileset`, ...) used without permission to read files.
    FilesystemNotAllowed,
    /// A reference that cannot be resolved (`var.missing`, `local.nope`) or an operation on
    /// values that do not support it.
    Reference,
    /// A variable without a value, a value for an undeclared variable, a value that does not
    /// convert to the variable's type, or a failed `validation` rule.
    Variable,
    /// Locals that depend on each other in a cycle.
    Cycle,
    /// An evaluation or nesting limit was exceeded.
    Limit(Limit),
}

impl ParseErrorKind {
    /// A stable name for the kind (`"invalid"`, `"type"`, `"unknown_field"`,
    /// `"unknown_function"`, `"function_call"`, `"filesystem_not_allowed"`, `"reference"`,
    /// `"variable"`, `"cycle"`, `"limit.value_size"`, `"limit.total_bytes"`, `"limit.steps"`,
    /// `"limit.locals_depth"`, `"limit.nesting"`), as the bindings report it.
    pub fn name(&self) -> &'static str {
        match self {
            ParseErrorKind::Invalid => "invalid",
            ParseErrorKind::Type => "type",
            ParseErrorKind::UnknownField => "unknown_field",
            ParseErrorKind::UnknownFunction => "unknown_function",
            ParseErrorKind::FunctionCall => "function_call",
            ParseErrorKind::FilesystemNotAllowed => "filesystem_not_allowed",
            ParseErrorKind::Reference => "reference",
            ParseErrorKind::Variable => "variable",
            ParseErrorKind::Cycle => "cycle",
            ParseErrorKind::Limit(Limit::ValueSize) => "limit.value_size",
            ParseErrorKind::Limit(Limit::TotalBytes) => "limit.total_bytes",
            ParseErrorKind::Limit(Limit::Steps) => "limit.steps",
            ParseErrorKind::Limit(Limit::LocalsDepth) => "limit.locals_depth",
            ParseErrorKind::Limit(Limit::Nesting) => "limit.nesting",
        }
    }
}

/// Input that could not be read as the expected document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Which format was being read.
    pub format: Format,
    /// What kind of problem this is.
    pub kind: ParseErrorKind,
    /// Path of the field in the document (`job[web].group[api].count`), when known.
    pub path: Option<String>,
    /// 1-based line of the problem, when known.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {}", self.format)?;
        if let Some(line) = self.line {
            write!(f, " at line {line}")?;
        }
        if let Some(path) = &self.path {
            write!(f, " in {path}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ParseError {}

impl ParseError {
    /// The same error for a document given as data: the JSON reader's error becomes a
    /// [`Format::Value`] error ("invalid value in mesh.port: ..."), since no JSON text was read.
    pub fn as_data(mut self) -> Self {
        if self.format == Format::Json {
            self.format = Format::Value;
            self.line = None;
        }
        self
    }

    /// A parse error with only a message.
    pub fn new(format: Format, message: impl Into<String>) -> Self {
        ParseError {
            format,
            kind: ParseErrorKind::Invalid,
            path: None,
            line: None,
            message: message.into(),
        }
    }

    /// Sets the field path.
    #[must_use]
    pub fn at(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// Sets the line.
    #[must_use]
    pub fn line(mut self, line: usize) -> Self {
        self.line = Some(line);
        self
    }

    /// Sets the kind.
    #[must_use]
    pub fn kind(mut self, kind: ParseErrorKind) -> Self {
        self.kind = kind;
        self
    }
}

/// The longest offending value a [`FieldError`] repeats in full.
pub const MAX_VALUE_CHARS: usize = 200;

/// One broken rule: where, what, and the offending value.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FieldError {
    /// Path of the field, e.g. `job[web].group[api].task[app].service[0].port`.
    pub path: String,
    /// What is wrong, in words.
    pub message: String,
    /// The offending value as written, when there is one.
    pub value: Option<String>,
}

impl FieldError {
    /// A problem at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            path: path.into(),
            message: message.into(),
            value: None,
        }
    }

    /// Records the offending value; values longer than [`MAX_VALUE_CHARS`] characters are
    /// shortened (with their full length noted) so a huge input does not flood every message.
    #[must_use]
    pub fn value(mut self, value: impl fmt::Display) -> Self {
        let v = value.to_string();
        let n = v.chars().count();
        self.value = Some(if n > MAX_VALUE_CHARS {
            let head: String = v.chars().take(MAX_VALUE_CHARS).collect();
            format!("{head}... ({} bytes)", v.len())
        } else {
            v
        });
        self
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)?;
        if let Some(v) = &self.value {
            write!(f, " (got {v:?})")?;
        }
        Ok(())
    }
}

/// Every problem found in one validation pass (never empty when returned as an error).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    /// No problems yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one problem.
    pub fn push(&mut self, e: FieldError) {
        self.0.push(e);
    }

    /// Records a problem at `path` with the offending `value`.
    pub fn add(
        &mut self,
        path: impl Into<String>,
        message: impl Into<String>,
        value: impl fmt::Display,
    ) {
        self.0.push(FieldError::new(path, message).value(value));
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The problems found.
    pub fn errors(&self) -> &[FieldError] {
        &self.0
    }

    /// `Ok(())` when empty, else `Err(Error::Validation(self))`.
    pub fn into_result(self) -> Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(self))
        }
    }

    /// Adds every problem of `other`.
    pub fn extend(&mut self, other: ValidationErrors) {
        self.0.extend(other.0);
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(f, "{n} validation problem{}", if n == 1 { "" } else { "s" })?;
        for e in &self.0 {
            write!(f, "\n  - {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

/// Any error of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is not valid HCL/JSON/env text, or a value has the wrong type.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// The input parsed but breaks one or more rules.
    #[error(transparent)]
    Validation(#[from] ValidationErrors),
    /// An interception rule set could not be built, read or applied.
    #[error(transparent)]
    Iptables(#[from] iptables::IptablesError),
    /// A Nomad, Consul or etcd call failed.
    #[error(transparent)]
    Backend(#[from] backend::BackendError),
    /// Another operator holds the mesh lock, took it over, or changed the state first.
    #[error(transparent)]
    Conflict(#[from] ConflictError),
    /// A job of an apply or destroy failed (the error names the job).
    #[error(transparent)]
    Install(#[from] install::InstallError),
    /// A local file could not be read or written.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done (`read`, `write`, `create directory`).
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A value could not be written as JSON.
    #[error("could not encode {what} as JSON: {source}")]
    Encode {
        /// What was being written (`state record`, `undo record`).
        what: &'static str,
        /// serde_json's error.
        #[source]
        source: serde_json::Error,
    },
}

impl ConflictError {
    /// A stable name for the case: `lock_held`, `lock_delay`, `lock_lost`, `state_changed`,
    /// `job_changed` or `changed_during_apply` (the bindings report it as the error's `kind`).
    pub fn name(&self) -> &'static str {
        match self {
            ConflictError::LockHeld { .. } => "lock_held",
            ConflictError::LockDelay { .. } => "lock_delay",
            ConflictError::LockLost { .. } => "lock_lost",
            ConflictError::StateChanged { .. } => "state_changed",
            ConflictError::JobChanged { .. } => "job_changed",
            ConflictError::ChangedDuringApply { .. } => "changed_during_apply",
        }
    }

    /// The mesh or job the conflict is about.
    pub fn subject(&self) -> &str {
        match self {
            ConflictError::LockHeld { mesh, .. }
            | ConflictError::LockDelay { mesh, .. }
            | ConflictError::LockLost { mesh, .. } => mesh,
            ConflictError::StateChanged { key, .. } => key,
            ConflictError::JobChanged { job, .. }
            | ConflictError::ChangedDuringApply { job, .. } => job,
        }
    }
}

/// An [`Error`] as data ([`Error::report`]), serialized the same way by every binding:
///
/// ```json
/// {"family": "validation", "message": "...", "line": null,
///  "fields": [{"path": "mesh.service[reviews].port[http].port", "message": "...", "value": "70000"}]}
/// ```
///
/// `kind` is present for a parse error (its [`ParseErrorKind::name`]) and a conflict (its
/// [`ConflictError::name`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ErrorReport {
    /// The error's family.
    pub family: ErrorKind,
    /// The whole message.
    pub message: String,
    /// The 1-based line of a parse error, when known.
    pub line: Option<usize>,
    /// The parse error's kind or the conflict's case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The located problems: every field of a validation error, the path of a parse error.
    pub fields: Vec<FieldError>,
}

/// The family of an [`Error`], for callers (and bindings) that branch on it.
///
/// Unlike [`Error`], this enum is not `#[non_exhaustive]`: a `match` on it without a catch-all
/// arm stops compiling when a kind is added, which is how every binding is kept complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ErrorKind {
    /// [`Error::Parse`].
    Parse,
    /// [`Error::Validation`].
    Validation,
    /// [`Error::Iptables`].
    Iptables,
    /// [`Error::Backend`].
    Backend,
    /// [`Error::Conflict`].
    Conflict,
    /// [`Error::Install`].
    Install,
    /// [`Error::Io`].
    Io,
    /// [`Error::Encode`].
    Encode,
}

impl ErrorKind {
    /// Every kind.
    pub const ALL: [ErrorKind; 8] = [
        ErrorKind::Parse,
        ErrorKind::Validation,
        ErrorKind::Iptables,
        ErrorKind::Backend,
        ErrorKind::Conflict,
        ErrorKind::Install,
        ErrorKind::Io,
        ErrorKind::Encode,
    ];

    /// The kind's stable name: `parse`, `validation`, `iptables`, `backend`, `conflict`,
    /// `install`, `io` or `encode`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Parse => "parse",
            ErrorKind::Validation => "validation",
            ErrorKind::Iptables => "iptables",
            ErrorKind::Backend => "backend",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Install => "install",
            ErrorKind::Io => "io",
            ErrorKind::Encode => "encode",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an operation lost to another operator, one variant per case.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ConflictError {
    /// Another operator holds the mesh lock.
    #[error("conflict: mesh {mesh} is locked by {}", holder.as_deref().unwrap_or("another operator"))]
    LockHeld {
        /// The mesh.
        mesh: String,
        /// Who holds it (holder, operation, since), when the lock entry says.
        holder: Option<String>,
    },
    /// The previous holder's Consul session ended moments ago and Consul holds the lock back
    /// for the session's `LockDelay` (Consul `agent/consul/state/session.go`
    /// `deleteSessionTxn` sets it; `agent/consul/kvs_endpoint.go` `kvsPreApply` refuses an
    /// acquire within it).
    #[error("conflict: {}", match previous { Some(h) => format!("mesh {mesh} was locked by {h}; its session ended moments ago and Consul holds the lock back for the lock delay"), None => format!("mesh {mesh}: the lock is held back by Consul's lock delay after the previous holder's session ended; try again shortly") })]
    LockDelay {
        /// The mesh.
        mesh: String,
        /// The previous holder, when the lock entry still names it.
        previous: Option<String>,
    },
    /// The lock was lost during the operation (its etcd lease expired or its Consul session
    /// is gone); nothing more was written.
    #[error("conflict: the lock of mesh {mesh} was lost ({}); nothing more was written", match now_held_by { Some(h) => format!("it expired and is now held by {h}"), None => how.to_string() })]
    LockLost {
        /// The mesh.
        mesh: String,
        /// What ended it: `its lease expired`, `its Consul session is gone`.
        how: &'static str,
        /// Who holds the lock now, when someone does.
        now_held_by: Option<String>,
        /// The backend's answer that showed the loss, when there was one.
        #[source]
        source: Option<std::sync::Arc<backend::BackendError>>,
    },
    /// A state key was changed by another writer between read and write (check-and-set lost).
    #[error("conflict: state key {key} was changed by another writer (expected revision {expected}, found {found})")]
    StateChanged {
        /// The key.
        key: String,
        /// The revision the write expected.
        expected: u64,
        /// The revision found.
        found: u64,
    },
    /// A job was changed by someone else after it was read (Nomad refused the register's
    /// `EnforceIndex`); nothing was overwritten.
    #[error("conflict: job {job} was changed by someone else after it was read (JobModifyIndex was {read_index}); nothing was overwritten, run diff again: {source}")]
    JobChanged {
        /// The job ID.
        job: String,
        /// The `JobModifyIndex` the register was conditioned on.
        read_index: u64,
        /// Nomad's answer.
        #[source]
        source: std::sync::Arc<backend::BackendError>,
    },
    /// A job was changed by someone else while the apply waited for it: its deployment or the
    /// job itself is at a newer `JobModifyIndex` than the apply registered.
    #[error("conflict: job {job} was changed by someone else during the apply: {seen} JobModifyIndex {found}, this apply expected {expected}")]
    ChangedDuringApply {
        /// The job ID.
        job: String,
        /// Where the newer index was seen (`its latest deployment is for`, `it is at`).
        seen: &'static str,
        /// The index found.
        found: u64,
        /// The index this apply registered.
        expected: u64,
    },
}

impl Error {
    /// One validation problem as an error.
    pub fn field(
        path: impl Into<String>,
        message: impl Into<String>,
        value: impl fmt::Display,
    ) -> Self {
        let mut v = ValidationErrors::new();
        v.add(path, message, value);
        Error::Validation(v)
    }

    /// This error's family.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Parse(_) => ErrorKind::Parse,
            Error::Validation(_) => ErrorKind::Validation,
            Error::Iptables(_) => ErrorKind::Iptables,
            Error::Backend(_) => ErrorKind::Backend,
            Error::Conflict(_) => ErrorKind::Conflict,
            Error::Install(_) => ErrorKind::Install,
            Error::Io { .. } => ErrorKind::Io,
            Error::Encode { .. } => ErrorKind::Encode,
        }
    }

    /// The stable name of this error's family ([`ErrorKind::as_str`]).
    pub fn family(&self) -> &'static str {
        self.kind().as_str()
    }

    /// The error as data, the one form every binding reports (C: `istio_nomad_error_json`,
    /// Python: the exception's `report`): its family, message, line, kind and located problems.
    pub fn report(&self) -> ErrorReport {
        let mut fields = self.field_errors().to_vec();
        let (line, kind) = match self {
            Error::Parse(p) => {
                if let Some(path) = &p.path {
                    fields.push(FieldError::new(path.clone(), p.message.clone()));
                }
                (p.line, Some(p.kind.name()))
            }
            Error::Conflict(c) => (None, Some(c.name())),
            _ => (None, None),
        };
        ErrorReport {
            family: self.kind(),
            message: self.to_string(),
            line,
            kind: kind.map(str::to_owned),
            fields,
        }
    }

    /// For a document given as data (a Python `dict`): a JSON parse error becomes a
    /// [`Format::Value`] one ([`ParseError::as_data`]); other errors are unchanged.
    pub fn as_data(self) -> Self {
        match self {
            Error::Parse(p) => Error::Parse(p.as_data()),
            other => other,
        }
    }

    /// The field problems carried by a validation error (empty for other families).
    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            Error::Validation(v) => v.errors(),
            _ => &[],
        }
    }
}
