//! The interception rules of one meshed group: which [`InterceptConfig`] it gets and the
//! `iptables-restore` texts its init task applies.

use super::{SidecarOptions, ADMIN_PORT, METRICS_PORT, STATUS_PORT};
use crate::error::Result;
use crate::iptables::{shell_quote, Family, InterceptConfig, IptablesPlan, PortSelection};

/// File names the init task's templates render into its `local/` directory.
pub const RULES_FILE: &str = "istio-iptables.rules";
/// IPv6 rules file name.
pub const RULES6_FILE: &str = "istio-ip6tables.rules";
/// IPv4 cleanup file name.
pub const CLEANUP_FILE: &str = "istio-iptables.cleanup.rules";
/// IPv6 cleanup file name.
pub const CLEANUP6_FILE: &str = "istio-ip6tables.cleanup.rules";

/// The rendered rules of one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRules {
    /// The interception settings they were rendered from.
    pub config: InterceptConfig,
    /// IPv4 `iptables-restore --noflush` input.
    pub restore: String,
    /// IPv4 cleanup, as `iptables-restore --noflush` input.
    pub cleanup: String,
    /// IPv6 restore and cleanup, when IPv6 is on.
    pub restore6: Option<(String, String)>,
    /// `ip` commands (TPROXY policy routing) run after the restore, as argument lists.
    pub ip_commands: Vec<Vec<String>>,
    /// The cleanup of everything, including the `ip` commands, as a tolerant shell script.
    pub cleanup_shell: String,
}

/// The interception settings of a meshed group: the mesh's, with the proxy's own status,
/// metrics (and, when published, admin) ports excluded from inbound capture, so that health
/// checks and Prometheus reach the proxy itself.
pub fn group_config(opts: &SidecarOptions) -> InterceptConfig {
    let mut cfg = opts.effective_intercept();
    if cfg.inbound_ports == PortSelection::All {
        let mut own = Vec::new();
        if opts.has_status_port() {
            own.extend([STATUS_PORT, METRICS_PORT]);
        }
        if opts.spec.expose_admin {
            own.push(ADMIN_PORT);
        }
        for p in own {
            if !cfg.exclude_inbound_ports.contains(&p) {
                cfg.exclude_inbound_ports.push(p);
            }
        }
    }
    cfg
}

/// Renders the rules of `cfg`.
pub fn render(cfg: &InterceptConfig) -> Result<GroupRules> {
    let plan = IptablesPlan::new(cfg)?;
    let file = plan.rules_file();
    let restore6 = file
        .v6
        .map(|v6| (v6, plan.render_cleanup_restore(Family::V6)));
    Ok(GroupRules {
        config: cfg.clone(),
        restore: file.v4,
        cleanup: plan.render_cleanup_restore(Family::V4),
        restore6,
        ip_commands: file.ip_commands,
        cleanup_shell: plan.render_cleanup_shell(),
    })
}

impl GroupRules {
    /// The init task's script: remove rules a previous run of the same allocation left (the
    /// cleanup fails harmlessly on a fresh namespace), then apply the rules in one
    /// `iptables-restore --noflush` transaction per family, then the TPROXY routes.
    pub fn apply_script(&self, dir: &str) -> String {
        let mut s = String::from("set -e\n");
        s.push_str(&format!(
            "iptables-restore --noflush < {dir}/{CLEANUP_FILE} 2>/dev/null || true\n"
        ));
        s.push_str(&format!(
            "iptables-restore --noflush < {dir}/{RULES_FILE}\n"
        ));
        if self.restore6.is_some() {
            s.push_str(&format!(
                "ip6tables-restore --noflush < {dir}/{CLEANUP6_FILE} 2>/dev/null || true\n"
            ));
            s.push_str(&format!(
                "ip6tables-restore --noflush < {dir}/{RULES6_FILE}\n"
            ));
        }
        for cmd in &self.ip_commands {
            let args: Vec<String> = cmd.iter().map(|a| shell_quote(a)).collect();
            s.push_str(&format!("ip {} 2>/dev/null || true\n", args.join(" ")));
        }
        s
    }

    /// The files the init task's templates render: (name, contents).
    pub fn files(&self) -> Vec<(&'static str, &str)> {
        let mut out = vec![
            (RULES_FILE, self.restore.as_str()),
            (CLEANUP_FILE, self.cleanup.as_str()),
        ];
        if let Some((r, c)) = &self.restore6 {
            out.push((RULES6_FILE, r.as_str()));
            out.push((CLEANUP6_FILE, c.as_str()));
        }
        out
    }
}
