//! [`IptablesPlan`]: the rule set of an [`InterceptConfig`] as typed values, and its renderers.
//!
//! # The rule set (Istio 1.6 `istio-iptables`, IPv4 shown; IPv6 uses `::1/128` and `::6/128`)
//!
//! nat table (REDIRECT mode; chains in this order):
//!
//! 1. `ISTIO_REDIRECT`: `-p tcp -j REDIRECT --to-ports <proxy_port>`.
//! 2. `ISTIO_IN_REDIRECT`: `-p tcp -j REDIRECT --to-ports <inbound_capture_port>`.
//! 3. `ISTIO_INBOUND` (unless inbound is none), jumped to by `PREROUTING -p tcp`:
//!    all ports: `--dport 22 -j RETURN`, one RETURN per excluded inbound port, then
//!    `-p tcp -j ISTIO_IN_REDIRECT`; a list: `--dport P -j ISTIO_IN_REDIRECT` per port.
//! 4. `ISTIO_OUTPUT`, jumped to by `OUTPUT -p tcp`:
//!    one `--dport P -j RETURN` per excluded outbound port;
//!    `-s 127.0.0.6/32 -o lo -j RETURN` (the proxy's inbound passthrough connections);
//!    per proxy uid U: `! -d 127.0.0.1/32 -o lo -m owner --uid-owner U -j ISTIO_IN_REDIRECT`
//!    (the app calling itself through a service address goes through the proxy's inbound
//!    side), `-o lo -m owner ! --uid-owner U -j RETURN` (other local traffic on loopback is
//!    left alone), `-m owner --uid-owner U -j RETURN` (the proxy's own traffic);
//!    the same three per proxy gid with `--gid-owner`;
//!    `-d 127.0.0.1/32 -j RETURN`; one `-d CIDR -j RETURN` per excluded network;
//!    then all destinations: `-j ISTIO_REDIRECT`; a list: `-d CIDR -j ISTIO_REDIRECT` per
//!    network and a final `-j RETURN`; none: nothing.
//! 5. Per `-k` interface, at the top of nat `PREROUTING` (so before the inbound jump):
//!    `-d CIDR -i IF -j RETURN` per excluded network, then `-i IF -j ISTIO_REDIRECT` (all
//!    destinations) or `-d CIDR -i IF -j ISTIO_REDIRECT` per included network.
//!
//! TPROXY mode moves inbound capture to the mangle table: `ISTIO_DIVERT`
//! (`-j MARK --set-xmark MARK/0xffffffff`, `-j ACCEPT`), `ISTIO_TPROXY`
//! (`! -d 127.0.0.1/32 -p tcp -j TPROXY --on-port <inbound_capture_port> --on-ip 0.0.0.0
//! --tproxy-mark MARK/0xffffffff`) and mangle `ISTIO_INBOUND` (SSH and excluded ports RETURN,
//! then `-m conntrack --ctstate RELATED,ESTABLISHED -j ISTIO_DIVERT` and `-j ISTIO_TPROXY`, per
//! port for a list), plus `ip rule add fwmark MARK lookup TABLE` and
//! `ip route add local default dev lo table TABLE`. Outbound stays in nat as above.
//!
//! Choices: this is the 1.6 order (1.3 added the `-o` port RETURNs and the `127.0.0.6` rule,
//! 1.6 the per-uid loopback rules and conntrack instead of `-m socket`). TPROXY sends to the
//! inbound capture port (1.3+; 1.0 used the proxy port). The later mangle `OUTPUT` mark rules
//! that serve Envoy's original-source filter are not part of this plan. IPv6 mirrors IPv4 as
//! in 1.6 (1.0 instead rewrote ip6tables `INPUT` to reject inbound IPv6; we never touch chains
//! that are not ours). With `-k` and TPROXY, mangle sees packets before nat, so traffic from
//! those interfaces to captured inbound ports is still handled as inbound, as in Istio.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::config::{CidrSelection, InterceptConfig, InterceptionMode, PortSelection, SSH_PORT};
use super::net::{InterfaceName, IpNet, Ipv4Net, Ipv6Net};
use super::rule::{join_restore, shell_quote, Chain, CtState, IstioChain, Rule, Table, Target};
use super::Family;

/// Where a rule we add to a built-in chain goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookPosition {
    /// Appended at the end (`-A`).
    Append,
    /// Inserted at the top (`-I CHAIN n`, in plan order).
    Top,
}

/// A rule of ours in a built-in chain (mostly the jumps into our chains).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    /// The table.
    pub table: Table,
    /// The built-in chain.
    pub chain: Chain,
    /// Append or insert at the top.
    pub position: HookPosition,
    /// The rule.
    pub rule: Rule,
}

/// One of our chains and its rules, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainRules {
    /// The table.
    pub table: Table,
    /// The chain.
    pub chain: IstioChain,
    /// Its rules.
    pub rules: Vec<Rule>,
}

/// A policy-routing change needed by TPROXY mode (not expressible in iptables-restore text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteCommand {
    /// `ip -4|-6 rule ... fwmark MARK lookup TABLE`.
    FwmarkRule {
        /// Address family.
        family: Family,
        /// The mark.
        mark: u32,
        /// The table.
        table: u32,
    },
    /// `ip -4|-6 route ... local default dev lo table TABLE`.
    LocalDefaultRoute {
        /// Address family.
        family: Family,
        /// The table.
        table: u32,
    },
}

/// Add or delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteAction {
    /// `add`.
    Add,
    /// `del`.
    Delete,
}

impl RouteCommand {
    /// The family.
    pub fn family(&self) -> Family {
        match self {
            RouteCommand::FwmarkRule { family, .. }
            | RouteCommand::LocalDefaultRoute { family, .. } => *family,
        }
    }

    /// Arguments of the `ip` command.
    pub fn args(&self, action: RouteAction) -> Vec<String> {
        let verb = match action {
            RouteAction::Add => "add",
            RouteAction::Delete => "del",
        };
        let fam = match self.family() {
            Family::V4 => "-4",
            Family::V6 => "-6",
        };
        match self {
            RouteCommand::FwmarkRule { mark, table, .. } => [
                fam,
                "rule",
                verb,
                "fwmark",
                &mark.to_string(),
                "lookup",
                &table.to_string(),
            ]
            .map(String::from)
            .to_vec(),
            RouteCommand::LocalDefaultRoute { table, .. } => [
                fam,
                "route",
                verb,
                "local",
                "default",
                "dev",
                "lo",
                "table",
                &table.to_string(),
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

/// The rule set of one address family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyPlan {
    /// The family.
    pub family: Family,
    /// Our chains, in creation order.
    pub chains: Vec<ChainRules>,
    /// Our rules in built-in chains, in order.
    pub hooks: Vec<Hook>,
    /// Policy routing (TPROXY only).
    pub routes: Vec<RouteCommand>,
}

impl FamilyPlan {
    /// The tables this plan touches, sorted (mangle before nat).
    pub fn tables(&self) -> Vec<Table> {
        let mut t: Vec<Table> = self
            .chains
            .iter()
            .map(|c| c.table)
            .chain(self.hooks.iter().map(|h| h.table))
            .collect();
        t.sort();
        t.dedup();
        t
    }

    /// Our chains in `table`.
    pub fn chains_in(&self, table: Table) -> impl Iterator<Item = &ChainRules> {
        self.chains.iter().filter(move |c| c.table == table)
    }

    /// Our hooks in `table`.
    pub fn hooks_in(&self, table: Table) -> impl Iterator<Item = &Hook> {
        self.hooks.iter().filter(move |h| h.table == table)
    }

    /// The rules of one of our chains, if the plan has it.
    pub fn chain(&self, table: Table, chain: IstioChain) -> Option<&[Rule]> {
        self.chains
            .iter()
            .find(|c| c.table == table && c.chain == chain)
            .map(|c| c.rules.as_slice())
    }

    fn push(&mut self, table: Table, chain: IstioChain, rule: Rule) {
        match self
            .chains
            .iter_mut()
            .find(|c| c.table == table && c.chain == chain)
        {
            Some(c) => c.rules.push(rule),
            None => self.chains.push(ChainRules {
                table,
                chain,
                rules: vec![rule],
            }),
        }
    }

    fn hook(&mut self, table: Table, chain: Chain, position: HookPosition, rule: Rule) {
        self.hooks.push(Hook {
            table,
            chain,
            position,
            rule,
        });
    }

    /// Lines adding the hooks of `table` (`-A` or `-I CHAIN n`), for every built-in chain or
    /// only `only`; meant to run after our rules were removed from those chains.
    pub(crate) fn hook_lines(&self, table: Table, only: Option<&Chain>) -> Vec<String> {
        let mut top_index: Vec<(Chain, usize)> = Vec::new();
        let mut out = Vec::new();
        for h in self.hooks_in(table) {
            if only.is_some_and(|c| *c != h.chain) {
                continue;
            }
            let args = join_restore(&h.rule.args());
            match h.position {
                HookPosition::Append => out.push(format!("-A {} {args}", h.chain)),
                HookPosition::Top => {
                    let n = match top_index.iter_mut().find(|(c, _)| *c == h.chain) {
                        Some((_, n)) => {
                            *n += 1;
                            *n
                        }
                        None => {
                            top_index.push((h.chain.clone(), 1));
                            1
                        }
                    };
                    out.push(format!("-I {} {n} {args}", h.chain));
                }
            }
        }
        out
    }
}

/// Istio's interception rules for one [`InterceptConfig`], as typed values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IptablesPlan {
    config: InterceptConfig,
    v4: FamilyPlan,
    v6: Option<FamilyPlan>,
}

/// What a Nomad init task (or any setup step) writes to its rules files: the restore text per
/// family, applied with `iptables-restore --noflush FILE` / `ip6tables-restore --noflush FILE`.
/// The text is meant for a namespace without our rules; to re-apply on a namespace that may
/// have them, use [`super::Netfilter::apply`], which compares first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreFiles {
    /// IPv4 restore text.
    pub v4: String,
    /// IPv6 restore text, when IPv6 is on.
    pub v6: Option<String>,
    /// `ip` commands (TPROXY policy routing) to run after the restore, as argument lists.
    pub ip_commands: Vec<Vec<String>>,
}

impl RestoreFiles {
    /// Conventional file name of the IPv4 rules.
    pub const V4_NAME: &'static str = "istio-iptables.rules";
    /// Conventional file name of the IPv6 rules.
    pub const V6_NAME: &'static str = "istio-ip6tables.rules";
}

fn loopback(f: Family) -> IpNet {
    match f {
        Family::V4 => IpNet::V4(Ipv4Net::host(Ipv4Addr::LOCALHOST)),
        Family::V6 => IpNet::V6(Ipv6Net::host(Ipv6Addr::LOCALHOST)),
    }
}

/// The source address of the proxy's inbound passthrough connections (`127.0.0.6`, `::6`).
fn passthrough_source(f: Family) -> IpNet {
    match f {
        Family::V4 => IpNet::V4(Ipv4Net::host(Ipv4Addr::new(127, 0, 0, 6))),
        Family::V6 => IpNet::V6(Ipv6Net::host(Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 6))),
    }
}

fn unspecified(f: Family) -> IpAddr {
    match f {
        Family::V4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        Family::V6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}

fn lo() -> InterfaceName {
    InterfaceName::loopback()
}

fn jump(c: IstioChain) -> Target {
    Target::Jump(Chain::Istio(c))
}

fn build_family(cfg: &InterceptConfig, f: Family) -> FamilyPlan {
    use IstioChain::*;
    let mut p = FamilyPlan {
        family: f,
        chains: Vec::new(),
        hooks: Vec::new(),
        routes: Vec::new(),
    };
    let lo_net = loopback(f);
    let in_family = |n: &&IpNet| n.family() == f;

    p.push(
        Table::Nat,
        Redirect,
        Rule::new(Target::Redirect {
            to_port: cfg.proxy_port,
        })
        .tcp(),
    );
    p.push(
        Table::Nat,
        InRedirect,
        Rule::new(Target::Redirect {
            to_port: cfg.inbound_capture_port,
        })
        .tcp(),
    );

    // Inbound.
    if cfg.inbound_ports != PortSelection::None {
        let tproxy = cfg.mode == InterceptionMode::Tproxy;
        let table = if tproxy { Table::Mangle } else { Table::Nat };
        if tproxy {
            p.push(
                table,
                Divert,
                Rule::new(Target::Mark {
                    value: cfg.tproxy_mark,
                    mask: u32::MAX,
                }),
            );
            p.push(table, Divert, Rule::new(Target::Accept));
            p.routes.push(RouteCommand::FwmarkRule {
                family: f,
                mark: cfg.tproxy_mark,
                table: cfg.tproxy_route_table,
            });
            p.routes.push(RouteCommand::LocalDefaultRoute {
                family: f,
                table: cfg.tproxy_route_table,
            });
            p.push(
                table,
                Tproxy,
                Rule::new(Target::Tproxy {
                    on_port: cfg.inbound_capture_port,
                    on_ip: unspecified(f),
                    mark: cfg.tproxy_mark,
                    mask: u32::MAX,
                })
                .destination(lo_net, true)
                .tcp(),
            );
        }
        let established = [CtState::Related, CtState::Established];
        match &cfg.inbound_ports {
            PortSelection::All => {
                p.push(
                    table,
                    Inbound,
                    Rule::new(Target::Return).tcp().dport(SSH_PORT),
                );
                for port in &cfg.exclude_inbound_ports {
                    p.push(table, Inbound, Rule::new(Target::Return).tcp().dport(*port));
                }
                if tproxy {
                    p.push(
                        table,
                        Inbound,
                        Rule::new(jump(Divert)).tcp().ctstate(&established),
                    );
                    p.push(table, Inbound, Rule::new(jump(Tproxy)).tcp());
                } else {
                    p.push(table, Inbound, Rule::new(jump(InRedirect)).tcp());
                }
            }
            PortSelection::List(ports) => {
                for port in ports {
                    if tproxy {
                        p.push(
                            table,
                            Inbound,
                            Rule::new(jump(Divert))
                                .tcp()
                                .dport(*port)
                                .ctstate(&established),
                        );
                        p.push(table, Inbound, Rule::new(jump(Tproxy)).tcp().dport(*port));
                    } else {
                        p.push(
                            table,
                            Inbound,
                            Rule::new(jump(InRedirect)).tcp().dport(*port),
                        );
                    }
                }
            }
            PortSelection::None => {}
        }
        p.hook(
            table,
            Chain::Prerouting,
            HookPosition::Append,
            Rule::new(jump(Inbound)).tcp(),
        );
    }

    // Outbound.
    for port in &cfg.exclude_outbound_ports {
        p.push(
            Table::Nat,
            Output,
            Rule::new(Target::Return).tcp().dport(*port),
        );
    }
    p.push(
        Table::Nat,
        Output,
        Rule::new(Target::Return)
            .source(passthrough_source(f))
            .out_interface(lo()),
    );
    for uid in cfg.effective_uids() {
        p.push(
            Table::Nat,
            Output,
            Rule::new(jump(InRedirect))
                .destination(lo_net, true)
                .out_interface(lo())
                .uid_owner(uid, false),
        );
        p.push(
            Table::Nat,
            Output,
            Rule::new(Target::Return)
                .out_interface(lo())
                .uid_owner(uid, true),
        );
        p.push(
            Table::Nat,
            Output,
            Rule::new(Target::Return).uid_owner(uid, false),
        );
    }
    for gid in cfg.effective_gids() {
        p.push(
            Table::Nat,
            Output,
            Rule::new(jump(InRedirect))
                .destination(lo_net, true)
                .out_interface(lo())
                .gid_owner(gid, false),
        );
        p.push(
            Table::Nat,
            Output,
            Rule::new(Target::Return)
                .out_interface(lo())
                .gid_owner(gid, true),
        );
        p.push(
            Table::Nat,
            Output,
            Rule::new(Target::Return).gid_owner(gid, false),
        );
    }
    p.push(
        Table::Nat,
        Output,
        Rule::new(Target::Return).destination(lo_net, false),
    );
    let excluded: Vec<IpNet> = cfg
        .exclude_outbound_cidrs
        .iter()
        .filter(in_family)
        .copied()
        .collect();
    for net in &excluded {
        p.push(
            Table::Nat,
            Output,
            Rule::new(Target::Return).destination(*net, false),
        );
    }
    let included: Option<Vec<IpNet>> = match &cfg.outbound_cidrs {
        CidrSelection::All => None,
        CidrSelection::List(l) => Some(l.iter().filter(in_family).copied().collect()),
        CidrSelection::None => Some(Vec::new()),
    };
    match &included {
        None => p.push(Table::Nat, Output, Rule::new(jump(Redirect))),
        Some(nets) if !nets.is_empty() => {
            for net in nets {
                p.push(
                    Table::Nat,
                    Output,
                    Rule::new(jump(Redirect)).destination(*net, false),
                );
            }
            p.push(Table::Nat, Output, Rule::new(Target::Return));
        }
        Some(_) => {}
    }
    p.hook(
        Table::Nat,
        Chain::Output,
        HookPosition::Append,
        Rule::new(jump(Output)).tcp(),
    );

    // Interfaces whose inbound traffic is treated as outbound.
    let mut top = Vec::new();
    for iface in &cfg.outbound_interfaces {
        for net in &excluded {
            top.push(
                Rule::new(Target::Return)
                    .destination(*net, false)
                    .in_interface(iface.clone()),
            );
        }
        match &included {
            None => top.push(Rule::new(jump(Redirect)).in_interface(iface.clone())),
            Some(nets) => {
                for net in nets {
                    top.push(
                        Rule::new(jump(Redirect))
                            .destination(*net, false)
                            .in_interface(iface.clone()),
                    );
                }
            }
        }
    }
    // Top hooks go first in the chain; keep them before the appended PREROUTING jump.
    let mut hooks: Vec<Hook> = top
        .into_iter()
        .map(|rule| Hook {
            table: Table::Nat,
            chain: Chain::Prerouting,
            position: HookPosition::Top,
            rule,
        })
        .collect();
    hooks.append(&mut p.hooks);
    p.hooks = hooks;
    p
}

impl IptablesPlan {
    /// Validates `config` and builds its rule set.
    pub fn new(config: &InterceptConfig) -> crate::Result<Self> {
        config.validate()?;
        Ok(IptablesPlan {
            config: config.clone(),
            v4: build_family(config, Family::V4),
            v6: config.ipv6.then(|| build_family(config, Family::V6)),
        })
    }

    /// The config this plan was built from.
    pub fn config(&self) -> &InterceptConfig {
        &self.config
    }

    /// The rule set of `family` (`None` for IPv6 when it is off).
    pub fn family(&self, family: Family) -> Option<&FamilyPlan> {
        match family {
            Family::V4 => Some(&self.v4),
            Family::V6 => self.v6.as_ref(),
        }
    }

    /// The rule sets, IPv4 first.
    pub fn families(&self) -> impl Iterator<Item = &FamilyPlan> {
        std::iter::once(&self.v4).chain(self.v6.as_ref())
    }

    /// Appends `rule` to one of our chains (creating it if the plan has no such chain).
    /// Useful to extend the rule set, and to test what happens when the kernel refuses a rule.
    #[must_use]
    pub fn with_rule(
        mut self,
        family: Family,
        table: Table,
        chain: IstioChain,
        rule: Rule,
    ) -> Self {
        let fp = match family {
            Family::V4 => Some(&mut self.v4),
            Family::V6 => self.v6.as_mut(),
        };
        if let Some(fp) = fp {
            fp.push(table, chain, rule);
        }
        self
    }

    /// `iptables-restore --noflush` input installing the rules of `family` in a namespace
    /// that does not have them: per table, our chains are declared (`:CHAIN - [0:0]`, which
    /// creates or flushes them), filled, and only then jumped to from the built-in chains.
    /// Only our chains and our jumps are touched. Empty when the family is off.
    pub fn render_restore(&self, family: Family) -> String {
        let Some(fp) = self.family(family) else {
            return String::new();
        };
        let mut out = String::new();
        for table in fp.tables() {
            let _ = writeln!(out, "*{table}");
            for c in fp.chains_in(table) {
                let _ = writeln!(out, ":{} - [0:0]", c.chain.name());
            }
            for c in fp.chains_in(table) {
                for r in &c.rules {
                    let _ = writeln!(out, "-A {} {r}", c.chain.name());
                }
            }
            for line in fp.hook_lines(table, None) {
                let _ = writeln!(out, "{line}");
            }
            out.push_str("COMMIT\n");
        }
        out
    }

    /// `iptables-restore --noflush` input removing everything [`IptablesPlan::render_restore`]
    /// installed: our chains flushed, our rules in built-in chains deleted, our chains
    /// deleted. (The TPROXY `ip rule`/`ip route` are in [`IptablesPlan::render_cleanup_shell`].)
    pub fn render_cleanup_restore(&self, family: Family) -> String {
        let Some(fp) = self.family(family) else {
            return String::new();
        };
        let mut out = String::new();
        for table in fp.tables() {
            let _ = writeln!(out, "*{table}");
            let chains = ordered_chains(fp, table);
            for c in &chains {
                let _ = writeln!(out, ":{} - [0:0]", c.name());
            }
            for h in fp.hooks_in(table) {
                let _ = writeln!(out, "-D {} {}", h.chain, h.rule);
            }
            for c in &chains {
                let _ = writeln!(out, "-X {}", c.name());
            }
            out.push_str("COMMIT\n");
        }
        out
    }

    /// A POSIX shell script with one `iptables`/`ip6tables`/`ip` command per step, in the
    /// order Istio's script runs them (the sequential, non-atomic form).
    pub fn render_shell(&self) -> String {
        let mut out = String::from("#!/bin/sh\n");
        let _ = writeln!(
            out,
            "# Istio traffic interception: {} mode, proxy port {}, inbound capture port {}.",
            self.config.mode, self.config.proxy_port, self.config.inbound_capture_port
        );
        out.push_str("set -e\n");
        for fp in self.families() {
            let bin = fp.family.iptables_command();
            for table in fp.tables() {
                for c in fp.chains_in(table) {
                    let _ = writeln!(out, "{bin} -t {table} -N {}", c.chain.name());
                }
                for c in fp.chains_in(table) {
                    for r in &c.rules {
                        let _ = writeln!(
                            out,
                            "{bin} -t {table} -A {} {}",
                            c.chain.name(),
                            shell_args(&r.args())
                        );
                    }
                }
                for line in fp.hook_lines(table, None) {
                    let args = super::rule::split_restore(&line).unwrap_or_default();
                    let _ = writeln!(out, "{bin} -t {table} {}", shell_args(&args));
                }
            }
            for r in &fp.routes {
                let _ = writeln!(out, "ip {}", shell_args(&r.args(RouteAction::Add)));
            }
        }
        out
    }

    /// A POSIX shell script removing everything [`IptablesPlan::render_shell`] installs,
    /// including the TPROXY `ip rule`/`ip route`. Each command ignores "not found" errors so
    /// that the script also finishes on a partly cleaned namespace (as Istio's cleanup does).
    pub fn render_cleanup_shell(&self) -> String {
        let mut out = String::from("#!/bin/sh\n# Removes the Istio traffic interception rules.\n");
        for fp in self.families() {
            let bin = fp.family.iptables_command();
            for table in fp.tables() {
                for h in fp.hooks_in(table) {
                    let _ = writeln!(
                        out,
                        "{bin} -t {table} -D {} {} 2>/dev/null || true",
                        h.chain,
                        shell_args(&h.rule.args())
                    );
                }
                let chains = ordered_chains(fp, table);
                for c in &chains {
                    let _ = writeln!(out, "{bin} -t {table} -F {} 2>/dev/null || true", c.name());
                }
                for c in &chains {
                    let _ = writeln!(out, "{bin} -t {table} -X {} 2>/dev/null || true", c.name());
                }
            }
            for r in &fp.routes {
                let _ = writeln!(
                    out,
                    "ip {} 2>/dev/null || true",
                    shell_args(&r.args(RouteAction::Delete))
                );
            }
        }
        out
    }

    /// What a Nomad init task puts in its rules files (see [`RestoreFiles`]).
    pub fn rules_file(&self) -> RestoreFiles {
        RestoreFiles {
            v4: self.render_restore(Family::V4),
            v6: self.v6.as_ref().map(|_| self.render_restore(Family::V6)),
            ip_commands: self
                .families()
                .flat_map(|fp| fp.routes.iter().map(|r| r.args(RouteAction::Add)))
                .collect(),
        }
    }
}

/// Our chains of `table` in Istio's cleanup order.
fn ordered_chains(fp: &FamilyPlan, table: Table) -> Vec<IstioChain> {
    IstioChain::ALL
        .into_iter()
        .filter(|c| fp.chain(table, *c).is_some())
        .collect()
}

fn shell_args(args: &[String]) -> String {
    args.iter()
        .map(|a| shell_quote(a))
        .collect::<Vec<_>>()
        .join(" ")
}
