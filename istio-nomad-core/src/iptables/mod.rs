//! Istio's traffic interception rules as typed data, rendered and applied atomically.
//!
//! The flow is the crate's: **config -> plan -> render / apply**.
//!
//! * [`InterceptConfig`]: every `istio-iptables` setting, with Istio's defaults, loadable from
//!   `sidecar.env`/`cluster.env` variables ([`InterceptConfig::from_env_files`]) and from
//!   istio-iptables style flags ([`InterceptConfig::from_flags`]).
//! * [`IptablesPlan`]: the rule set as typed tables, chains and rules (see [`ruleset`] for the
//!   exact order), for IPv4 and IPv6, REDIRECT and TPROXY, with the TPROXY policy routing.
//! * Renderers: `iptables-restore --noflush` text per family ([`IptablesPlan::render_restore`]),
//!   a POSIX shell script ([`IptablesPlan::render_shell`]) and the exact cleanup in both forms.
//! * [`IptablesState`]: `iptables-save` output read back into the same model, so a plan can
//!   be compared with a namespace ([`IptablesPlan::diff`], [`IptablesPlan::is_applied`]).
//! * [`Netfilter`]: applies a plan idempotently (nothing written when the namespace already
//!   matches) and atomically (one restore transaction per family; on any failure the tables
//!   touched are put back as they were), with a real implementation ([`SystemNetfilter`],
//!   optionally inside a named network namespace) and an in-memory one (`MemoryNetfilter`, feature `test-util`).
//!
//! ```
//! use istio_nomad_core::iptables::{Family, InterceptConfig, IptablesPlan, PortSelection};
//!
//! let config = InterceptConfig::new().inbound_ports(PortSelection::List(vec![9080])).build()?;
//! let plan = IptablesPlan::new(&config)?;
//! assert!(plan.render_restore(Family::V4).contains("-A ISTIO_INBOUND -p tcp -m tcp --dport 9080 -j ISTIO_IN_REDIRECT"));
//! # Ok::<(), istio_nomad_core::Error>(())
//! ```

mod config;
#[cfg(any(test, feature = "test-util"))]
mod memory;
pub mod net;
mod rule;
pub mod ruleset;
mod state;
mod system;

pub use config::{
    parse_env_text, CidrSelection, InterceptConfig, InterceptionMode, PortSelection,
    DEFAULT_INBOUND_CAPTURE_PORT, DEFAULT_PROXY_PORT, DEFAULT_PROXY_UID, DEFAULT_TPROXY_MARK,
    DEFAULT_TPROXY_ROUTE_TABLE, MAX_ID, SSH_PORT,
};
#[cfg(any(test, feature = "test-util"))]
pub use memory::MemoryNetfilter;
pub use net::{InterfaceName, IpNet, Ipv4Net, Ipv6Net};
pub use rule::{
    join_restore, shell_quote, split_restore, Chain, CtState, IstioChain, Match, Negatable,
    Protocol, Rule, Table, Target,
};
pub use ruleset::{
    ChainRules, FamilyPlan, Hook, HookPosition, IptablesPlan, RestoreFiles, RouteAction,
    RouteCommand,
};
pub use state::{ChainState, IptablesDiff, IptablesState, RuleChange, SavedRule, TableState};
pub use system::{Backend, SystemNetfilter};

mod netfilter;
pub use netfilter::{Netfilter, NetfilterReport, RestoreMode};

pub use crate::error::iptables::{Family, IptablesError};

#[cfg(test)]
mod tests;
