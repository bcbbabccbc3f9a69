//! [`MemoryNetfilter`]: an in-memory netfilter that behaves like the kernel for the
//! operations restore text uses.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use super::netfilter::{Netfilter, RestoreMode};
use super::rule::{split_restore, Chain, Match, Rule, Table, Target};
use super::ruleset::{RouteAction, RouteCommand};
use super::state::{IptablesState, SavedRule};
use super::{Family, IptablesError};

/// Extension targets the in-memory kernel knows (others are refused like a missing module).
const LOADABLE_TARGETS: &[&str] = &[
    "REJECT",
    "LOG",
    "CONNMARK",
    "DNAT",
    "SNAT",
    "MASQUERADE",
    "NOTRACK",
    "CT",
];

#[derive(Debug, Clone, PartialEq, Eq)]
struct MemChain {
    chain: Chain,
    policy: Option<String>,
    rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct MemTable {
    table: Table,
    chains: Vec<MemChain>,
}

impl MemTable {
    fn fresh(table: Table) -> Self {
        MemTable {
            table,
            chains: table
                .builtin_chains()
                .iter()
                .map(|c| MemChain {
                    chain: c.clone(),
                    policy: Some("ACCEPT".into()),
                    rules: Vec::new(),
                })
                .collect(),
        }
    }

    fn chain_mut(&mut self, chain: &Chain) -> Result<&mut MemChain, String> {
        self.chains
            .iter_mut()
            .find(|c| c.chain == *chain)
            .ok_or_else(|| format!("chain '{chain}' does not exist"))
    }

    fn has(&self, chain: &Chain) -> bool {
        self.chains.iter().any(|c| c.chain == *chain)
    }

    fn check_rule(&self, chain: &Chain, rule: &Rule) -> Result<(), String> {
        match &rule.target {
            Some(Target::Jump(c) | Target::Goto(c)) => {
                if c.is_builtin() {
                    return Err(format!("cannot jump to built-in chain {c}"));
                }
                if !self.has(c) {
                    return Err(format!("Couldn't load target `{c}': chain does not exist"));
                }
            }
            Some(Target::Redirect { .. }) if self.table != Table::Nat => {
                return Err(format!(
                    "REDIRECT is only valid in the nat table, not {}",
                    self.table
                ));
            }
            Some(Target::Tproxy { .. }) if self.table != Table::Mangle => {
                return Err(format!(
                    "TPROXY is only valid in the mangle table, not {}",
                    self.table
                ));
            }
            Some(Target::Other { name, .. }) if !LOADABLE_TARGETS.contains(&name.as_str()) => {
                return Err(format!("Couldn't load target `{name}'"));
            }
            _ => {}
        }
        let owner = rule
            .matches
            .iter()
            .any(|m| matches!(m, Match::Owner { .. }));
        if owner && matches!(chain, Chain::Prerouting | Chain::Input | Chain::Forward) {
            return Err(format!("the owner match is not valid in {chain}"));
        }
        if let Some(m) = rule.matches.iter().find_map(|m| match m {
            Match::Other { module, .. }
                if !["comment", "mark", "socket", "state", "udp", "multiport"]
                    .contains(&module.as_str()) =>
            {
                Some(module)
            }
            _ => None,
        }) {
            return Err(format!("Couldn't load match `{m}'"));
        }
        Ok(())
    }

    fn references(&self, chain: &Chain) -> bool {
        self.chains
            .iter()
            .any(|c| c.rules.iter().any(|r| r.jump_chain() == Some(chain)))
    }
}

#[derive(Debug, Default)]
struct Kernel {
    tables: BTreeMap<Family, BTreeMap<Table, MemTable>>,
    routes: BTreeSet<String>,
}

/// An in-memory netfilter: holds tables, chains and rules per family and applies restore text
/// the way the kernel does: each table block is applied to a copy and committed on `COMMIT`
/// (an error discards the uncommitted table and keeps the ones committed before it), unknown
/// chains, targets and options are refused, a chain still referenced or not empty cannot be
/// deleted, `-D` of a missing rule fails. [`MemoryNetfilter::save`] prints like
/// `iptables-save`.
#[derive(Debug, Default)]
pub struct MemoryNetfilter {
    kernel: Mutex<Kernel>,
    writes: AtomicU64,
}

impl MemoryNetfilter {
    /// A namespace with no rules.
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes done so far (restore transactions and route changes, failed ones included).
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, Kernel> {
        // A panic while holding the lock cannot leave a half-applied table (tables are swapped
        // in whole), so a poisoned lock is still consistent.
        self.kernel.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn apply_text(
        &self,
        family: Family,
        input: &str,
        mode: RestoreMode,
    ) -> Result<(), IptablesError> {
        let mut k = self.lock();
        let tables = k.tables.entry(family).or_default();
        let mut cur: Option<MemTable> = None;
        let reject = |line: usize, reason: String| IptablesError::Rejected {
            family,
            line,
            reason,
        };
        for (i, raw) in input.lines().enumerate() {
            let n = i + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(name) = line.strip_prefix('*') {
                if cur.is_some() {
                    return Err(reject(n, "table starts before COMMIT".into()));
                }
                let table: Table = name.trim().parse().map_err(|e| reject(n, e))?;
                cur = Some(match (mode, tables.get(&table)) {
                    (RestoreMode::NoFlush, Some(t)) => t.clone(),
                    _ => MemTable::fresh(table),
                });
                continue;
            }
            let Some(t) = cur.as_mut() else {
                return Err(reject(n, format!("{line:?} outside of a table")));
            };
            if line == "COMMIT" {
                if let Some(done) = cur.take() {
                    tables.insert(done.table, done);
                }
                continue;
            }
            exec_line(t, line).map_err(|e| reject(n, e))?;
        }
        if cur.is_some() {
            return Err(reject(input.lines().count(), "missing COMMIT".into()));
        }
        Ok(())
    }

    fn render_save(&self, family: Family) -> String {
        let k = self.lock();
        let mut out = String::new();
        let Some(tables) = k.tables.get(&family) else {
            return out;
        };
        for t in tables.values() {
            let _ = writeln!(out, "# Generated by the in-memory netfilter\n*{}", t.table);
            let mut chains: Vec<&MemChain> =
                t.chains.iter().filter(|c| c.chain.is_builtin()).collect();
            let mut user: Vec<&MemChain> =
                t.chains.iter().filter(|c| !c.chain.is_builtin()).collect();
            user.sort_by(|a, b| a.chain.name().cmp(b.chain.name()));
            chains.extend(user);
            for c in &chains {
                let _ = writeln!(
                    out,
                    ":{} {} [0:0]",
                    c.chain,
                    c.policy.as_deref().unwrap_or("-")
                );
            }
            for c in &chains {
                for r in &c.rules {
                    let _ = writeln!(out, "-A {} {r}", c.chain);
                }
            }
            out.push_str("COMMIT\n# Completed\n");
        }
        out
    }
}

fn parse_rule(args: &[String]) -> Result<Rule, String> {
    Rule::from_args(args)
}

fn exec_line(t: &mut MemTable, line: &str) -> Result<(), String> {
    if let Some(decl) = line.strip_prefix(':') {
        let mut parts = decl.split_whitespace();
        let name = parts.next().ok_or("chain declaration without a name")?;
        let policy = parts.next().ok_or("chain declaration without a policy")?;
        let chain = Chain::parse(name)?;
        if chain.is_builtin() {
            if !t.table.builtin_chains().contains(&chain) {
                return Err(format!("chain {name} does not exist in table {}", t.table));
            }
            if !matches!(policy, "ACCEPT" | "DROP") {
                return Err(format!("bad policy {policy:?} for {name}"));
            }
            t.chain_mut(&chain)?.policy = Some(policy.to_string());
        } else {
            if policy != "-" {
                return Err(format!("user chain {name} cannot have a policy"));
            }
            match t.chains.iter_mut().find(|c| c.chain == chain) {
                Some(c) => c.rules.clear(),
                None => t.chains.push(MemChain {
                    chain,
                    policy: None,
                    rules: Vec::new(),
                }),
            }
        }
        return Ok(());
    }
    let mut args = split_restore(line)?;
    if args
        .first()
        .is_some_and(|a| a.starts_with('[') && a.ends_with(']'))
    {
        args.remove(0);
    }
    let cmd = args.first().cloned().unwrap_or_default();
    let chain_arg = args.get(1).map(|s| Chain::parse(s)).transpose()?;
    let need_chain = || {
        chain_arg
            .clone()
            .ok_or_else(|| format!("{cmd} needs a chain"))
    };
    match cmd.as_str() {
        "-A" | "--append" => {
            let chain = need_chain()?;
            let rule = parse_rule(&args[2..])?;
            t.check_rule(&chain, &rule)?;
            t.chain_mut(&chain)?.rules.push(rule);
        }
        "-I" | "--insert" => {
            let chain = need_chain()?;
            let (pos, rest) = match args.get(2).and_then(|s| s.parse::<usize>().ok()) {
                Some(p) => (p, &args[3..]),
                None => (1, &args[2..]),
            };
            let rule = parse_rule(rest)?;
            t.check_rule(&chain, &rule)?;
            let c = t.chain_mut(&chain)?;
            if pos == 0 || pos > c.rules.len() + 1 {
                return Err(format!("index of insertion {pos} too big"));
            }
            c.rules.insert(pos - 1, rule);
        }
        "-D" | "--delete" => {
            let chain = need_chain()?;
            let c = t.chain_mut(&chain)?;
            let idx = match (
                args.len(),
                args.get(2).and_then(|s| s.parse::<usize>().ok()),
            ) {
                (3, Some(p)) if p >= 1 && p <= c.rules.len() => p - 1,
                (3, Some(p)) => return Err(format!("index of deletion {p} too big")),
                _ => {
                    let rule = parse_rule(&args[2..])?;
                    c.rules
                        .iter()
                        .position(|r| *r == rule)
                        .ok_or("Bad rule (does a matching rule exist in that chain?)")?
                }
            };
            c.rules.remove(idx);
        }
        "-F" | "--flush" => match chain_arg {
            Some(chain) => t.chain_mut(&chain)?.rules.clear(),
            None => t.chains.iter_mut().for_each(|c| c.rules.clear()),
        },
        "-N" | "--new-chain" => {
            let chain = need_chain()?;
            if chain.is_builtin() || t.has(&chain) {
                return Err("Chain already exists".into());
            }
            t.chains.push(MemChain {
                chain,
                policy: None,
                rules: Vec::new(),
            });
        }
        "-X" | "--delete-chain" => {
            let chain = need_chain()?;
            if chain.is_builtin() {
                return Err(format!("cannot delete built-in chain {chain}"));
            }
            let c = t.chain_mut(&chain)?;
            if !c.rules.is_empty() {
                return Err(format!("Directory not empty: chain {chain} has rules"));
            }
            if t.references(&chain) {
                return Err(format!(
                    "Device or resource busy: chain {chain} is referenced"
                ));
            }
            t.chains.retain(|c| c.chain != chain);
        }
        "-P" | "--policy" => {
            let chain = need_chain()?;
            let policy = args.get(2).ok_or("-P needs a policy")?;
            if !chain.is_builtin() || !matches!(policy.as_str(), "ACCEPT" | "DROP") {
                return Err(format!("bad policy {policy} for {chain}"));
            }
            t.chain_mut(&chain)?.policy = Some(policy.clone());
        }
        other => return Err(format!("unknown command {other:?}")),
    }
    Ok(())
}

impl MemoryNetfilter {
    /// A namespace holding `save_text` (iptables-save output) for `family`; fails on text the
    /// in-memory kernel would not accept.
    pub fn with_state(self, family: Family, save_text: &str) -> Result<Self, IptablesError> {
        let state = IptablesState::parse_family(family, save_text)?;
        for t in state.tables() {
            if t.chains
                .iter()
                .flat_map(|c| &c.rules)
                .any(|r| matches!(r, SavedRule::Raw(_)))
            {
                return Err(IptablesError::Rejected {
                    family,
                    line: 0,
                    reason: format!(
                        "table {} has rules the in-memory kernel does not model",
                        t.table
                    ),
                });
            }
        }
        self.apply_text(family, save_text, RestoreMode::Replace)?;
        Ok(self)
    }
}

impl Netfilter for MemoryNetfilter {
    fn save(&self, family: Family) -> Result<String, IptablesError> {
        Ok(self.render_save(family))
    }

    fn restore(&self, family: Family, input: &str, mode: RestoreMode) -> Result<(), IptablesError> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.apply_text(family, input, mode)
    }

    fn route_exists(&self, route: &RouteCommand) -> Result<bool, IptablesError> {
        Ok(self
            .lock()
            .routes
            .contains(&route.args(RouteAction::Add).join(" ")))
    }

    fn route(&self, route: &RouteCommand, action: RouteAction) -> Result<(), IptablesError> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        let key = route.args(RouteAction::Add).join(" ");
        let mut k = self.lock();
        let ok = match action {
            RouteAction::Add => k.routes.insert(key),
            RouteAction::Delete => k.routes.remove(&key),
        };
        if ok {
            Ok(())
        } else {
            Err(IptablesError::CommandFailed {
                program: "ip".into(),
                args: route.args(action),
                status: Some(2),
                stderr: match action {
                    RouteAction::Add => "RTNETLINK answers: File exists".into(),
                    RouteAction::Delete => "RTNETLINK answers: No such file or directory".into(),
                },
            })
        }
    }
}
