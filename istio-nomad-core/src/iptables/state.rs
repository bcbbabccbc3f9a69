//! Reading `iptables-save` output into the typed model, and comparing it with a plan.

use std::fmt;
use std::fmt::Write as _;

use super::rule::{join_restore, split_restore, Chain, IstioChain, Rule, Table};
use super::ruleset::{FamilyPlan, IptablesPlan};
use super::Family;
use crate::error::{Format, ParseError};

/// One rule as read back: typed when we understand every option, else kept as its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SavedRule {
    /// A rule in the typed model.
    Typed(Rule),
    /// A rule with something we do not model (kept verbatim, never rewritten).
    Raw(Vec<String>),
}

impl SavedRule {
    /// The typed rule, if there is one.
    pub fn typed(&self) -> Option<&Rule> {
        match self {
            SavedRule::Typed(r) => Some(r),
            SavedRule::Raw(_) => None,
        }
    }

    /// The arguments after `-A CHAIN`.
    pub fn args(&self) -> Vec<String> {
        match self {
            SavedRule::Typed(r) => r.args(),
            SavedRule::Raw(a) => a.clone(),
        }
    }

    /// True when this rule jumps (or goes) to one of our chains.
    pub fn jumps_to_ours(&self) -> bool {
        match self {
            SavedRule::Typed(r) => matches!(r.jump_chain(), Some(Chain::Istio(_))),
            SavedRule::Raw(a) => a.windows(2).any(|w| {
                (w[0] == "-j" || w[0] == "-g") && IstioChain::ALL.iter().any(|c| c.name() == w[1])
            }),
        }
    }
}

impl fmt::Display for SavedRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&join_restore(&self.args()))
    }
}

/// A chain as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainState {
    /// The chain.
    pub chain: Chain,
    /// The policy of a built-in chain (`ACCEPT`, `DROP`); `None` for user chains.
    pub policy: Option<String>,
    /// Its rules, in order.
    pub rules: Vec<SavedRule>,
}

/// A table as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableState {
    /// The table.
    pub table: Table,
    /// Its chains, in the order printed.
    pub chains: Vec<ChainState>,
    /// The table's block as printed (from `*table` to `COMMIT`), used to put it back.
    pub(crate) text: String,
}

impl TableState {
    /// A chain of this table.
    pub fn chain(&self, chain: &Chain) -> Option<&ChainState> {
        self.chains.iter().find(|c| c.chain == *chain)
    }

    /// True when the table holds nothing: only built-in chains, with ACCEPT policy and no
    /// rules (what a table that was never used looks like).
    pub fn is_pristine(&self) -> bool {
        self.chains.iter().all(|c| {
            c.chain.is_builtin() && c.rules.is_empty() && c.policy.as_deref() == Some("ACCEPT")
        })
    }
}

/// The rules of one address family, as `iptables-save` / `ip6tables-save` printed them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IptablesState {
    family: Family,
    tables: Vec<TableState>,
}

fn perr(line: usize, message: impl Into<String>) -> ParseError {
    ParseError::new(Format::IptablesSave, message).line(line)
}

impl IptablesState {
    /// Parses IPv4 `iptables-save` output.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        Self::parse_family(Family::V4, text)
    }

    /// Parses `iptables-save` (or `ip6tables-save` for [`Family::V6`]) output. Comments,
    /// counters and blank lines are ignored; every `-A` must name a chain declared in its
    /// table; every table must end with `COMMIT`.
    pub fn parse_family(family: Family, text: &str) -> Result<Self, ParseError> {
        let mut tables: Vec<TableState> = Vec::new();
        let mut cur: Option<TableState> = None;
        for (i, raw) in text.lines().enumerate() {
            let n = i + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(name) = line.strip_prefix('*') {
                if cur.is_some() {
                    return Err(perr(
                        n,
                        "table starts before the previous one was committed",
                    ));
                }
                let table: Table = name.trim().parse().map_err(|e: String| perr(n, e))?;
                if tables.iter().any(|t| t.table == table) {
                    return Err(perr(n, format!("table {table} appears twice")));
                }
                cur = Some(TableState {
                    table,
                    chains: Vec::new(),
                    text: format!("*{table}\n"),
                });
                continue;
            }
            let Some(t) = cur.as_mut() else {
                return Err(perr(n, format!("{line:?} outside of a table")));
            };
            if line == "COMMIT" {
                t.text.push_str("COMMIT\n");
                if let Some(done) = cur.take() {
                    tables.push(done);
                }
                continue;
            }
            t.text.push_str(line);
            t.text.push('\n');
            if let Some(decl) = line.strip_prefix(':') {
                let mut parts = decl.split_whitespace();
                let name = parts
                    .next()
                    .ok_or_else(|| perr(n, "chain declaration without a name"))?;
                let policy = parts
                    .next()
                    .ok_or_else(|| perr(n, "chain declaration without a policy"))?;
                let chain = Chain::parse(name).map_err(|e| perr(n, e))?;
                if t.chains.iter().any(|c| c.chain == chain) {
                    return Err(perr(n, format!("chain {name} declared twice")));
                }
                let builtin = t.table.builtin_chains().contains(&chain);
                let policy = match (builtin, policy) {
                    (true, "-") => {
                        return Err(perr(n, format!("built-in chain {name} without a policy")))
                    }
                    (true, p) => Some(p.to_string()),
                    (false, "-") => None,
                    (false, p) => {
                        return Err(perr(n, format!("user chain {name} with policy {p}")))
                    }
                };
                t.chains.push(ChainState {
                    chain,
                    policy,
                    rules: Vec::new(),
                });
                continue;
            }
            let mut args = split_restore(line).map_err(|e| perr(n, e))?;
            if args
                .first()
                .is_some_and(|a| a.starts_with('[') && a.ends_with(']'))
            {
                args.remove(0);
            }
            if args.first().map(String::as_str) != Some("-A") {
                return Err(perr(n, format!("unexpected line {line:?}")));
            }
            let name = args.get(1).ok_or_else(|| perr(n, "-A without a chain"))?;
            let chain = Chain::parse(name).map_err(|e| perr(n, e))?;
            let rule = match Rule::from_args(&args[2..]) {
                Ok(r) => SavedRule::Typed(r),
                Err(_) => SavedRule::Raw(args[2..].to_vec()),
            };
            match t.chains.iter_mut().find(|c| c.chain == chain) {
                Some(c) => c.rules.push(rule),
                None => return Err(perr(n, format!("rule for undeclared chain {name}"))),
            }
        }
        if cur.is_some() {
            return Err(perr(
                text.lines().count(),
                "missing COMMIT at the end of the last table",
            ));
        }
        Ok(IptablesState { family, tables })
    }

    /// The family.
    pub fn family(&self) -> Family {
        self.family
    }

    /// The tables, in the order printed.
    pub fn tables(&self) -> &[TableState] {
        &self.tables
    }

    /// One table.
    pub fn table(&self, table: Table) -> Option<&TableState> {
        self.tables.iter().find(|t| t.table == table)
    }

    /// The rules of a chain.
    pub fn chain(&self, table: Table, chain: &Chain) -> Option<&ChainState> {
        self.table(table).and_then(|t| t.chain(chain))
    }

    /// The printed blocks of `tables` (those present), as `iptables-restore` input that puts
    /// them back exactly when restored without `--noflush`.
    pub fn tables_text(&self, tables: &[Table]) -> String {
        self.tables
            .iter()
            .filter(|t| tables.contains(&t.table))
            .map(|t| t.text.as_str())
            .collect()
    }

    /// A canonical text of the state for comparisons: tables sorted, counters and comments
    /// dropped, tables that hold nothing left out (an unused table and an absent one are the
    /// same to the kernel).
    pub fn normalized(&self) -> String {
        let mut tables: Vec<&TableState> =
            self.tables.iter().filter(|t| !t.is_pristine()).collect();
        tables.sort_by_key(|t| t.table);
        let mut out = String::new();
        for t in tables {
            let _ = writeln!(out, "*{}", t.table);
            for c in &t.chains {
                let _ = writeln!(out, ":{} {}", c.chain, c.policy.as_deref().unwrap_or("-"));
            }
            for c in &t.chains {
                for r in &c.rules {
                    let _ = writeln!(out, "-A {} {r}", c.chain);
                }
            }
            out.push_str("COMMIT\n");
        }
        out
    }
}

/// One difference between a plan and a namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleChange {
    /// One of our chains is missing.
    MissingChain {
        /// Table.
        table: Table,
        /// Chain.
        chain: IstioChain,
    },
    /// One of our chains has other rules than planned.
    RulesDiffer {
        /// Table.
        table: Table,
        /// Chain.
        chain: IstioChain,
        /// The planned rules.
        expected: Vec<Rule>,
        /// The rules found.
        found: Vec<SavedRule>,
    },
    /// A chain with one of our names exists but the plan does not have it.
    StaleChain {
        /// Table.
        table: Table,
        /// Chain.
        chain: IstioChain,
    },
    /// Our rules in a built-in chain (jumps into our chains and `-k` rules) differ.
    HooksDiffer {
        /// Table.
        table: Table,
        /// The built-in chain.
        chain: Chain,
        /// Our planned rules there, in order.
        expected: Vec<Rule>,
        /// Our rules found there, in order.
        found: Vec<SavedRule>,
    },
}

impl fmt::Display for RuleChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |v: Vec<String>| {
            if v.is_empty() {
                "(none)".to_string()
            } else {
                v.join("; ")
            }
        };
        match self {
            RuleChange::MissingChain { table, chain } => {
                write!(f, "{table} {}: missing", chain.name())
            }
            RuleChange::StaleChain { table, chain } => {
                write!(f, "{table} {}: not in the plan", chain.name())
            }
            RuleChange::RulesDiffer {
                table,
                chain,
                expected,
                found,
            } => write!(
                f,
                "{table} {}: expected [{}], found [{}]",
                chain.name(),
                list(expected.iter().map(|r| r.to_string()).collect()),
                list(found.iter().map(|r| r.to_string()).collect())
            ),
            RuleChange::HooksDiffer {
                table,
                chain,
                expected,
                found,
            } => write!(
                f,
                "{table} {chain}: expected our rules [{}], found [{}]",
                list(expected.iter().map(|r| r.to_string()).collect()),
                list(found.iter().map(|r| r.to_string()).collect())
            ),
        }
    }
}

/// The differences between a plan and one family's state (empty: the plan is applied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IptablesDiff {
    /// The family compared.
    pub family: Family,
    /// The differences, per table in order.
    pub changes: Vec<RuleChange>,
}

impl IptablesDiff {
    /// True when the state matches the plan.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    fn tables(&self) -> Vec<Table> {
        let mut t: Vec<Table> = self
            .changes
            .iter()
            .map(|c| match c {
                RuleChange::MissingChain { table, .. }
                | RuleChange::RulesDiffer { table, .. }
                | RuleChange::StaleChain { table, .. }
                | RuleChange::HooksDiffer { table, .. } => *table,
            })
            .collect();
        t.sort();
        t.dedup();
        t
    }
}

impl fmt::Display for IptablesDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.changes.is_empty() {
            return write!(f, "{}: up to date", self.family);
        }
        for (i, c) in self.changes.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}: {c}", self.family)?;
        }
        Ok(())
    }
}

/// Our rules in a built-in chain: planned hooks, and anything jumping into our chains.
fn ours_in(fp: &FamilyPlan, table: Table, chain: &ChainState) -> Vec<SavedRule> {
    chain
        .rules
        .iter()
        .filter(|r| {
            r.jumps_to_ours()
                || r.typed().is_some_and(|t| {
                    fp.hooks_in(table)
                        .any(|h| h.chain == chain.chain && h.rule == *t)
                })
        })
        .cloned()
        .collect()
}

fn empty_plan(family: Family) -> FamilyPlan {
    FamilyPlan {
        family,
        chains: Vec::new(),
        hooks: Vec::new(),
        routes: Vec::new(),
    }
}

impl IptablesPlan {
    /// The differences between this plan and `state` (of `state.family()`). A family the plan
    /// does not cover (IPv6 when it is off) has no differences.
    pub fn diff(&self, state: &IptablesState) -> IptablesDiff {
        let family = state.family();
        let mut changes = Vec::new();
        if let Some(fp) = self.family(family) {
            let mut tables = fp.tables();
            tables.extend(state.tables.iter().map(|t| t.table));
            tables.sort();
            tables.dedup();
            for table in tables {
                changes.extend(table_changes(fp, state.table(table), table));
            }
        }
        IptablesDiff { family, changes }
    }

    /// True when `state` holds exactly this plan's chains and hooks (of its family).
    pub fn is_applied(&self, state: &IptablesState) -> bool {
        self.diff(state).is_empty()
    }

    /// One `iptables-restore --noflush` transaction bringing `state` to this plan, or `None`
    /// when it already matches. For every table that differs: our chains are declared (which
    /// flushes them) and refilled, chains with our names that the plan lacks are flushed and
    /// deleted, and our rules in a built-in chain are rewritten only when they differ (their
    /// order among themselves is compared, not their position among other rules). Rules that
    /// are not ours are never touched.
    pub fn reconcile_restore(&self, state: &IptablesState) -> Option<String> {
        let fp = self.family(state.family())?;
        let diff = self.diff(state);
        if diff.is_empty() {
            return None;
        }
        let mut out = String::new();
        for table in diff.tables() {
            let ts = state.table(table);
            let _ = writeln!(out, "*{table}");
            let stale: Vec<IstioChain> = diff
                .changes
                .iter()
                .filter_map(|c| match c {
                    RuleChange::StaleChain { table: t, chain } if *t == table => Some(*chain),
                    _ => None,
                })
                .collect();
            for c in fp.chains_in(table) {
                let _ = writeln!(out, ":{} - [0:0]", c.chain.name());
            }
            for c in &stale {
                let _ = writeln!(out, ":{} - [0:0]", c.name());
            }
            let rebuilt: Vec<&Chain> = diff
                .changes
                .iter()
                .filter_map(|c| match c {
                    RuleChange::HooksDiffer {
                        table: t, chain, ..
                    } if *t == table => Some(chain),
                    _ => None,
                })
                .collect();
            for chain in &rebuilt {
                if let Some(cs) = ts.and_then(|t| t.chain(chain)) {
                    for r in ours_in(fp, table, cs) {
                        let _ = writeln!(out, "-D {chain} {r}");
                    }
                }
            }
            for c in &stale {
                let _ = writeln!(out, "-X {}", c.name());
            }
            for c in fp.chains_in(table) {
                for r in &c.rules {
                    let _ = writeln!(out, "-A {} {r}", c.chain.name());
                }
            }
            for chain in &rebuilt {
                for line in fp.hook_lines(table, Some(chain)) {
                    let _ = writeln!(out, "{line}");
                }
            }
            out.push_str("COMMIT\n");
        }
        Some(out)
    }

    /// One `iptables-restore --noflush` transaction removing everything of ours from `state`
    /// (this plan's hooks, any jump into a chain with one of our names, and those chains), or
    /// `None` when there is nothing to remove.
    pub fn cleanup_restore_for(&self, state: &IptablesState) -> Option<String> {
        let empty = empty_plan(state.family());
        let fp = self.family(state.family()).unwrap_or(&empty);
        let mut out = String::new();
        for ts in &state.tables {
            let mut deletes = Vec::new();
            for cs in ts.chains.iter().filter(|c| c.chain.is_builtin()) {
                for r in ours_in(fp, ts.table, cs) {
                    deletes.push(format!("-D {} {r}", cs.chain));
                }
            }
            let chains: Vec<IstioChain> = IstioChain::ALL
                .into_iter()
                .filter(|c| ts.chain(&Chain::Istio(*c)).is_some())
                .collect();
            if deletes.is_empty() && chains.is_empty() {
                continue;
            }
            let _ = writeln!(out, "*{}", ts.table);
            for c in &chains {
                let _ = writeln!(out, ":{} - [0:0]", c.name());
            }
            for d in deletes {
                let _ = writeln!(out, "{d}");
            }
            for c in &chains {
                let _ = writeln!(out, "-X {}", c.name());
            }
            out.push_str("COMMIT\n");
        }
        (!out.is_empty()).then_some(out)
    }
}

fn table_changes(fp: &FamilyPlan, ts: Option<&TableState>, table: Table) -> Vec<RuleChange> {
    let mut changes = Vec::new();
    for c in fp.chains_in(table) {
        match ts.and_then(|t| t.chain(&Chain::Istio(c.chain))) {
            None => changes.push(RuleChange::MissingChain {
                table,
                chain: c.chain,
            }),
            Some(cs) => {
                let same = cs.rules.len() == c.rules.len()
                    && cs
                        .rules
                        .iter()
                        .zip(&c.rules)
                        .all(|(a, b)| a.typed() == Some(b));
                if !same {
                    changes.push(RuleChange::RulesDiffer {
                        table,
                        chain: c.chain,
                        expected: c.rules.clone(),
                        found: cs.rules.clone(),
                    });
                }
            }
        }
    }
    if let Some(ts) = ts {
        for cs in &ts.chains {
            if let Chain::Istio(ic) = cs.chain {
                if fp.chain(table, ic).is_none() {
                    changes.push(RuleChange::StaleChain { table, chain: ic });
                }
            }
        }
    }
    for builtin in table.builtin_chains() {
        let expected: Vec<Rule> = fp
            .hooks_in(table)
            .filter(|h| h.chain == *builtin)
            .map(|h| h.rule.clone())
            .collect();
        let found = match ts.and_then(|t| t.chain(builtin)) {
            Some(cs) => ours_in(fp, table, cs),
            None => Vec::new(),
        };
        let same = found.len() == expected.len()
            && found
                .iter()
                .zip(&expected)
                .all(|(a, b)| a.typed() == Some(b));
        if !same {
            changes.push(RuleChange::HooksDiffer {
                table,
                chain: builtin.clone(),
                expected,
                found,
            });
        }
    }
    changes
}
