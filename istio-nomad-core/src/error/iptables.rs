//! Errors of the interception rules ([`crate::iptables`]), and the address family they name.

use std::fmt;

/// An IP address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// IPv4 (`iptables`).
    V4,
    /// IPv6 (`ip6tables`).
    V6,
}

impl Family {
    /// The command that edits this family's rules one at a time.
    pub fn iptables_command(self) -> &'static str {
        match self {
            Family::V4 => "iptables",
            Family::V6 => "ip6tables",
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        })
    }
}

/// An interception rule set that could not be built, read or applied.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IptablesError {
    /// A setting (a flag like `-d` or a variable like `ISTIO_INBOUND_PORTS`) has a bad value.
    #[error("invalid {setting} {value:?}: {reason}")]
    InvalidSetting {
        /// The flag or variable, as the user wrote it.
        setting: String,
        /// The offending value.
        value: String,
        /// What is wrong.
        reason: String,
    },
    /// A program could not be started.
    #[error("cannot run {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A program exited with an error.
    #[error("{program} {} failed ({}): {}", args.join(" "), status.map_or("killed by a signal".to_string(), |s| format!("exit status {s}")), stderr.trim())]
    CommandFailed {
        /// The program.
        program: String,
        /// Its arguments.
        args: Vec<String>,
        /// Its exit status (`None` when killed by a signal).
        status: Option<i32>,
        /// What it printed on stderr.
        stderr: String,
    },
    /// `iptables-save` output could not be read.
    #[error(transparent)]
    SaveParse(#[from] crate::error::ParseError),
    /// No usable iptables backend (legacy, nft or plain) was found.
    #[error("no usable iptables backend: {0}")]
    BackendDetection(String),
    /// The named network namespace is unusable.
    #[error("network namespace {name:?}: {reason}")]
    Netns {
        /// The namespace.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A restore transaction was refused (by the in-memory kernel; the real one reports
    /// [`IptablesError::CommandFailed`]).
    #[error("{family} restore refused at line {line}: {reason}")]
    Rejected {
        /// The family.
        family: Family,
        /// 1-based line of the restore input.
        line: usize,
        /// Why.
        reason: String,
    },
    /// Applying failed and the previous state could not be put back either.
    #[error("{error}; restoring the previous state also failed: {rollback}")]
    RollbackFailed {
        /// The original failure.
        error: Box<IptablesError>,
        /// The failure of the rollback.
        rollback: Box<IptablesError>,
    },
}
