//! Istio's traffic interception rules as typed data, rendered and applied atomically.
//!
//! The flow is the crate's: **config -> plan -> render / apply**.
//!
//! * [`InterceptConfig`]: every `istio-iptables` setting, with Istio's defaults, loadable from
//!   `sidecar.env`/`cluster.env` variables ([`InterceptConfig::from_env_files`]) and from
//!   istio-iptables style flags ([`InterceptConfig::from_flags`]).
//! * [`IptablesPlan`]: the rule set as typed tables, chains and rules (see [`plan`] for the
//!   exact order), for IPv4 and IPv6, REDIRECT and TPROXY, with the TPROXY policy routing.
//! * Renderers: `iptables-restore --noflush` text per family ([`IptablesPlan::render_restore`]),
//!   a POSIX shell script ([`IptablesPlan::render_shell`]) and the exact cleanup in both forms.
//! * [`IptablesState`]: `iptables-save` output read back into the same model, so a plan can
//!   be compared with a namespace ([`IptablesPlan::diff`], [`IptablesPlan::is_applied`]).
//! * [`Netfilter`]: applies a plan idempotently (nothing written when the namespace already
//!   matches) and atomically (one restore transaction per family; on any failure the tables
//!   touched are put back as they were), with a real implementation ([`SystemNetfilter`],
//!   optionally inside a named network namespace) and an in-memory one ([`MemoryNetfilter`]).
//!
//! ```
//! use istio_nomad_core::iptables::{Family, InterceptConfig, IptablesPlan, PortSelection};
//!
//! let config = InterceptConfig::new().inbound_ports(PortSelection::List(vec![9080])).build()?;
//! let plan = IptablesPlan::new(&config)?;
//! assert!(plan.render_restore(Family::V4).contains("-A ISTIO_INBOUND -p tcp -m tcp --dport 9080 -j ISTIO_IN_REDIRECT"));
//! # Ok::<(), istio_nomad_core::Error>(())
//! ```

use std::fmt;

mod config;
mod memory;
pub mod net;
pub mod plan;
mod rule;
mod state;
mod system;

pub use config::{
    parse_env_text, CidrSelection, InterceptConfig, InterceptionMode, PortSelection,
    DEFAULT_INBOUND_CAPTURE_PORT, DEFAULT_PROXY_PORT, DEFAULT_PROXY_UID, DEFAULT_TPROXY_MARK,
    DEFAULT_TPROXY_ROUTE_TABLE, MAX_ID, SSH_PORT,
};
pub use memory::MemoryNetfilter;
pub use net::{InterfaceName, IpNet, Ipv4Net, Ipv6Net};
pub use plan::{
    ChainRules, FamilyPlan, Hook, HookPosition, IptablesPlan, RouteAction, RouteCommand, RulesFile,
};
pub use rule::{
    join_restore, shell_quote, split_restore, Chain, CtState, IstioChain, Match, Negatable,
    Protocol, Rule, Table, Target,
};
pub use state::{ChainState, Change, IptablesDiff, IptablesState, SavedRule, TableState};
pub use system::{Backend, SystemNetfilter};

mod netfilter;
pub use netfilter::{ApplyReport, Netfilter, RestoreMode};

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

#[cfg(test)]
mod tests;
