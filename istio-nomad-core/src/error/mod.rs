//! Error types shared by every layer.
//!
//! Each layer has its own family, and [`Error`] gathers them so that a caller (and the Python
//! and C bindings) can tell a bad spec from a refused rule set from "Nomad said 403":
//!
//! | family | variant | meaning |
//! |---|---|---|
//! | parse | [`Error::Parse`] | the text is not valid HCL/JSON, or a value has the wrong type |
//! | validation | [`Error::Validation`] | the input parsed but breaks a rule; every problem is listed with its path |
//! | iptables | [`Error::Iptables`] | an interception rule set could not be built, read or applied |
//! | backend | [`Error::Backend`] | a Nomad, Consul or etcd call failed (status code and server message kept) |
//! | conflict | [`Error::Conflict`] | another operator changed the state first (check-and-set lost) |
//! | install | [`Error::Install`] | a job of an apply or destroy failed: deployment failed, deadline, host-mode collision |
//! | io | [`Error::Io`] | a local file could not be read or written |

pub mod backend;
pub mod install;
pub mod iptables;

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
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Hcl => "HCL",
            Format::Json => "JSON",
            Format::Env => "env",
            Format::IptablesSave => "iptables-save",
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
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// Another operator changed the state first.
    #[error("conflict: {0}")]
    Conflict(String),
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

    /// The stable name of this error's family: `parse`, `validation`, `iptables`, `backend`,
    /// `conflict`, `install` or `io`. The bindings map it to an exception class or a result code.
    pub fn family(&self) -> &'static str {
        match self {
            Error::Parse(_) => "parse",
            Error::Validation(_) => "validation",
            Error::Iptables(_) => "iptables",
            Error::Backend(_) => "backend",
            Error::Conflict(_) => "conflict",
            Error::Install(_) => "install",
            Error::Io { .. } => "io",
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
