//! The [`Netfilter`] trait: reading and writing a namespace's rules, and applying a plan
//! idempotently and atomically on top of those primitives.

use super::rule::Table;
use super::ruleset::{IptablesPlan, RouteAction, RouteCommand};
use super::state::IptablesState;
use super::{Family, IptablesError};

/// How `iptables-restore` treats the tables named in its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestoreMode {
    /// `--noflush`: only what the input says changes (declaring a user chain flushes it).
    NoFlush,
    /// Without `--noflush`: each table named in the input is replaced as a whole. Used only
    /// to put back tables exactly as they were read after a failed transaction.
    Replace,
}

/// What [`Netfilter::apply`] or [`Netfilter::clean`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NetfilterReport {
    /// Restore transactions written (0 when the namespace already matched).
    pub transactions: usize,
    /// `ip rule` / `ip route` changes made.
    pub route_changes: usize,
}

impl NetfilterReport {
    /// True when anything was written.
    pub fn changed(&self) -> bool {
        self.transactions > 0 || self.route_changes > 0
    }
}

/// Access to one network namespace's netfilter rules and policy routing.
///
/// Implementations provide the primitives (`save`, `restore`, routes); [`Netfilter::apply`]
/// and [`Netfilter::clean`] are built on them:
///
/// * **Idempotent**: the current rules are read first; when they match the plan nothing is
///   written at all. Otherwise ONE `iptables-restore --noflush` transaction per family
///   replaces our chains and fixes our jumps, leaving every other rule untouched.
/// * **Atomic**: `iptables-restore` commits each table on its `COMMIT` line, so a failure in a
///   later table (or family) would leave earlier ones changed. On any failure, every table the
///   transaction named is put back from the text read before (a restore without `--noflush`
///   of exactly those tables; tables that did not exist are emptied), and routes added are
///   removed, so the namespace is as it was.
pub trait Netfilter {
    /// `iptables-save` (or `ip6tables-save`) output.
    fn save(&self, family: Family) -> Result<String, IptablesError>;

    /// Feeds `input` to `iptables-restore` (or `ip6tables-restore`).
    fn restore(&self, family: Family, input: &str, mode: RestoreMode) -> Result<(), IptablesError>;

    /// Whether a policy-routing rule or route exists.
    fn route_exists(&self, route: &RouteCommand) -> Result<bool, IptablesError>;

    /// Adds or deletes a policy-routing rule or route.
    fn route(&self, route: &RouteCommand, action: RouteAction) -> Result<(), IptablesError>;

    /// Processes started so far (0 for implementations that start none).
    fn processes_spawned(&self) -> u64 {
        0
    }

    /// The current rules of `family`, parsed.
    fn state(&self, family: Family) -> Result<IptablesState, IptablesError> {
        Ok(IptablesState::parse_family(family, &self.save(family)?)?)
    }

    /// Makes the namespace hold exactly `plan`'s rules (see the trait documentation).
    fn apply(&self, plan: &IptablesPlan) -> Result<NetfilterReport, IptablesError> {
        let mut pending = Vec::new();
        for fp in plan.families() {
            let state = self.state(fp.family)?;
            if let Some(tx) = plan.reconcile_restore(&state) {
                pending.push((state, tx));
            }
        }
        let mut missing = Vec::new();
        for fp in plan.families() {
            for r in &fp.routes {
                if !self.route_exists(r)? {
                    missing.push(*r);
                }
            }
        }
        let mut report = NetfilterReport::default();
        if pending.is_empty() && missing.is_empty() {
            return Ok(report);
        }
        let mut added: Vec<RouteCommand> = Vec::new();
        for r in &missing {
            if let Err(e) = self.route(r, RouteAction::Add) {
                return Err(with_rollback(e, undo(self, &[], &added)));
            }
            added.push(*r);
            report.route_changes += 1;
        }
        run_transactions(self, &pending, &added)?;
        report.transactions = pending.len();
        Ok(report)
    }

    /// Removes everything of ours: this plan's hooks, any jump into a chain with one of our
    /// names, those chains, and this plan's routes. Other rules are untouched. Atomic like
    /// [`Netfilter::apply`]; nothing is written when there is nothing to remove.
    fn clean(&self, plan: &IptablesPlan) -> Result<NetfilterReport, IptablesError> {
        let mut pending = Vec::new();
        for fp in plan.families() {
            let state = self.state(fp.family)?;
            if let Some(tx) = plan.cleanup_restore_for(&state) {
                pending.push((state, tx));
            }
        }
        let mut report = NetfilterReport::default();
        run_transactions(self, &pending, &[])?;
        report.transactions = pending.len();
        for fp in plan.families() {
            for r in &fp.routes {
                if self.route_exists(r)? {
                    self.route(r, RouteAction::Delete)?;
                    report.route_changes += 1;
                }
            }
        }
        Ok(report)
    }
}

/// Runs the transactions in order; on a failure puts back every table touched so far
/// (including the failing transaction's) and removes `added` routes.
fn run_transactions<N: Netfilter + ?Sized>(
    nf: &N,
    pending: &[(IptablesState, String)],
    added: &[RouteCommand],
) -> Result<(), IptablesError> {
    for (i, (state, tx)) in pending.iter().enumerate() {
        if let Err(e) = nf.restore(state.family(), tx, RestoreMode::NoFlush) {
            return Err(with_rollback(e, undo(nf, &pending[..=i], added)));
        }
    }
    Ok(())
}

fn tables_named(tx: &str) -> Vec<Table> {
    tx.lines()
        .filter_map(|l| l.strip_prefix('*'))
        .filter_map(|t| t.trim().parse().ok())
        .collect()
}

/// Puts back the tables named by `done` transactions as they were read, then removes routes.
fn undo<N: Netfilter + ?Sized>(
    nf: &N,
    done: &[(IptablesState, String)],
    added: &[RouteCommand],
) -> Result<(), IptablesError> {
    let mut first_err = None;
    for (state, tx) in done.iter().rev() {
        let mut text = String::new();
        for table in tables_named(tx) {
            match state.table(table) {
                Some(_) => text.push_str(&state.tables_text(&[table])),
                None => text.push_str(&format!("*{table}\nCOMMIT\n")),
            }
        }
        if let Err(e) = nf.restore(state.family(), &text, RestoreMode::Replace) {
            first_err.get_or_insert(e);
        }
    }
    for r in added.iter().rev() {
        if let Err(e) = nf.route(r, RouteAction::Delete) {
            first_err.get_or_insert(e);
        }
    }
    first_err.map_or(Ok(()), Err)
}

fn with_rollback(error: IptablesError, rollback: Result<(), IptablesError>) -> IptablesError {
    match rollback {
        Ok(()) => error,
        Err(r) => IptablesError::RollbackFailed {
            error: Box::new(error),
            rollback: Box::new(r),
        },
    }
}
