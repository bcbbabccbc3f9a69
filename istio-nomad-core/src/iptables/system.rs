//! [`SystemNetfilter`]: the real implementation, running `iptables-save`/`iptables-restore`
//! (and the `ip6tables-*` and `ip` commands), optionally inside a named network namespace.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use super::netfilter::{Netfilter, RestoreMode};
use super::ruleset::{RouteAction, RouteCommand};
use super::{Family, IptablesError};

/// Which iptables binaries are used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `iptables-legacy-*` (the x_tables kernel interface).
    Legacy,
    /// `iptables-nft-*` (nf_tables through the iptables compatibility layer).
    Nft,
    /// Plain `iptables-*`, whatever the system links it to.
    Plain,
}

impl Backend {
    fn suffix(self) -> &'static str {
        match self {
            Backend::Legacy => "-legacy",
            Backend::Nft => "-nft",
            Backend::Plain => "",
        }
    }

    /// The save command of `family` (`iptables-nft-save`, `ip6tables-legacy-save`, ...).
    pub fn save_command(self, family: Family) -> String {
        format!("{}{}-save", family.iptables_command(), self.suffix())
    }

    /// The restore command of `family`.
    pub fn restore_command(self, family: Family) -> String {
        format!("{}{}-restore", family.iptables_command(), self.suffix())
    }
}

/// Runs the system's iptables tools, in the current network namespace or in a named one
/// (`ip netns exec NAME ...`, `ip -n NAME ...`).
///
/// The backend is detected once, on first use, and kept: legacy only when the legacy tables
/// already hold rules (in either family), else nft, else plain `iptables` (Istio's order).
/// Detection only reads (`*-save`); it never adds a probe rule, which would itself create
/// legacy tables and make the next detection pick legacy again (istio/istio#61020).
#[derive(Debug)]
pub struct SystemNetfilter {
    netns: Option<String>,
    backend: OnceLock<Backend>,
    spawned: AtomicU64,
}

impl Default for SystemNetfilter {
    fn default() -> Self {
        Self::new()
    }
}

impl SystemNetfilter {
    /// Works on the current network namespace.
    pub fn new() -> Self {
        SystemNetfilter {
            netns: None,
            backend: OnceLock::new(),
            spawned: AtomicU64::new(0),
        }
    }

    /// Works inside the named network namespace (`/run/netns/NAME`, as made by
    /// `ip netns add`). The name must be 1 to 64 characters from `[A-Za-z0-9_.-]` and the
    /// namespace must exist.
    pub fn in_netns(name: &str) -> Result<Self, IptablesError> {
        let bad = |reason: &str| IptablesError::Netns {
            name: name.to_string(),
            reason: reason.into(),
        };
        if name.is_empty()
            || name.len() > 64
            || name == "."
            || name == ".."
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        {
            return Err(bad(
                "names may only contain letters, digits, '_', '.' and '-' (1 to 64)",
            ));
        }
        if !std::path::Path::new("/run/netns").join(name).exists() {
            return Err(bad("no such namespace (see `ip netns list`)"));
        }
        Ok(SystemNetfilter {
            netns: Some(name.to_string()),
            backend: OnceLock::new(),
            spawned: AtomicU64::new(0),
        })
    }

    /// Uses `backend` instead of detecting one.
    #[must_use]
    pub fn with_backend(self, backend: Backend) -> Self {
        let _ = self.backend.set(backend);
        self
    }

    /// The namespace, if any.
    pub fn netns(&self) -> Option<&str> {
        self.netns.as_deref()
    }

    /// The backend in use (detected on the first call).
    pub fn backend(&self) -> Result<Backend, IptablesError> {
        if let Some(b) = self.backend.get() {
            return Ok(*b);
        }
        let detected = self.detect()?;
        Ok(*self.backend.get_or_init(|| detected))
    }

    fn detect(&self) -> Result<Backend, IptablesError> {
        let mut problems = Vec::new();
        for family in [Family::V4, Family::V6] {
            match self.run(&Backend::Legacy.save_command(family), &[], None) {
                Ok(out) if out.lines().any(|l| l.starts_with("-A ")) => return Ok(Backend::Legacy),
                Ok(_) => {}
                Err(e) => problems.push(e.to_string()),
            }
        }
        for b in [Backend::Nft, Backend::Plain] {
            match self.run(&b.save_command(Family::V4), &[], None) {
                Ok(_) => return Ok(b),
                Err(e) => problems.push(e.to_string()),
            }
        }
        Err(IptablesError::BackendDetection(problems.join("; ")))
    }

    /// Runs `program args` (inside the namespace if any), feeding `stdin`; returns stdout.
    fn run(
        &self,
        program: &str,
        args: &[String],
        stdin: Option<&str>,
    ) -> Result<String, IptablesError> {
        let mut cmd = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, program]);
                c
            }
            None => Command::new(program),
        };
        cmd.args(args);
        self.execute(cmd, program, args, stdin)
    }

    /// Runs `ip args` (with `-n NAME` when in a namespace).
    fn run_ip(&self, args: &[String]) -> Result<String, IptablesError> {
        let mut cmd = Command::new("ip");
        if let Some(ns) = &self.netns {
            cmd.args(["-n", ns]);
        }
        cmd.args(args);
        self.execute(cmd, "ip", args, None)
    }

    fn execute(
        &self,
        mut cmd: Command,
        program: &str,
        args: &[String],
        stdin: Option<&str>,
    ) -> Result<String, IptablesError> {
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let spawn_err = |source| IptablesError::Spawn {
            program: program.to_string(),
            source,
        };
        let mut child = cmd.spawn().map_err(spawn_err)?;
        self.spawned.fetch_add(1, Ordering::Relaxed);
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            // A write error shows up as the child's failure below.
            let _ = pipe.write_all(input.as_bytes());
        }
        let out = child.wait_with_output().map_err(spawn_err)?;
        if !out.status.success() {
            return Err(IptablesError::CommandFailed {
                program: program.to_string(),
                args: args.to_vec(),
                status: out.status.code(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

fn parse_number(s: &str) -> Option<u32> {
    match s.strip_prefix("0x") {
        Some(h) => u32::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

/// True when an `ip rule show` line is `... fwmark MARK lookup TABLE` (mask absent or full).
fn rule_line_matches(line: &str, mark: u32, table: u32) -> bool {
    let t: Vec<&str> = line.split_whitespace().collect();
    let fw = t.windows(2).find(|w| w[0] == "fwmark").map(|w| w[1]);
    let lookup = t
        .windows(2)
        .find(|w| w[0] == "lookup" || w[0] == "table")
        .map(|w| w[1]);
    let mark_ok = fw.is_some_and(|m| match m.split_once('/') {
        Some((v, mask)) => parse_number(v) == Some(mark) && parse_number(mask) == Some(u32::MAX),
        None => parse_number(m) == Some(mark),
    });
    mark_ok && lookup.and_then(parse_number) == Some(table)
}

impl Netfilter for SystemNetfilter {
    fn save(&self, family: Family) -> Result<String, IptablesError> {
        let b = self.backend()?;
        self.run(&b.save_command(family), &[], None)
    }

    fn restore(&self, family: Family, input: &str, mode: RestoreMode) -> Result<(), IptablesError> {
        let b = self.backend()?;
        let mut args = Vec::new();
        if mode == RestoreMode::NoFlush {
            args.push("--noflush".to_string());
        }
        if b == Backend::Legacy {
            args.push("--wait".to_string());
        }
        self.run(&b.restore_command(family), &args, Some(input))
            .map(|_| ())
    }

    fn route_exists(&self, route: &RouteCommand) -> Result<bool, IptablesError> {
        let fam = match route.family() {
            Family::V4 => "-4",
            Family::V6 => "-6",
        };
        match route {
            RouteCommand::FwmarkRule { mark, table, .. } => {
                let out = self.run_ip(&[fam.into(), "rule".into(), "show".into()])?;
                Ok(out.lines().any(|l| rule_line_matches(l, *mark, *table)))
            }
            RouteCommand::LocalDefaultRoute { table, .. } => {
                let args = [
                    fam.into(),
                    "route".into(),
                    "show".into(),
                    "table".into(),
                    table.to_string(),
                ];
                match self.run_ip(&args) {
                    Ok(out) => Ok(out.lines().any(|l| {
                        let t: Vec<&str> = l.split_whitespace().collect();
                        t.starts_with(&["local", "default", "dev", "lo"])
                    })),
                    // A table that was never used "does not exist".
                    Err(IptablesError::CommandFailed { stderr, .. })
                        if stderr.contains("does not exist") =>
                    {
                        Ok(false)
                    }
                    Err(e) => Err(e),
                }
            }
        }
    }

    fn route(&self, route: &RouteCommand, action: RouteAction) -> Result<(), IptablesError> {
        self.run_ip(&route.args(action)).map(|_| ())
    }

    fn processes_spawned(&self) -> u64 {
        self.spawned.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_rule_lines() {
        assert!(rule_line_matches(
            "32765:\tfrom all fwmark 0x539 lookup 133",
            1337,
            133
        ));
        assert!(rule_line_matches(
            "32765:\tfrom all fwmark 0x539/0xffffffff lookup 133",
            1337,
            133
        ));
        assert!(!rule_line_matches(
            "32765:\tfrom all fwmark 0x539/0xff lookup 133",
            1337,
            133
        ));
        assert!(!rule_line_matches(
            "32765:\tfrom all fwmark 0x53a lookup 133",
            1337,
            133
        ));
        assert!(!rule_line_matches("0:\tfrom all lookup local", 1337, 133));
    }

    #[test]
    fn netns_names_are_checked() {
        for bad in ["", "a b", "x;reboot", "..", "../x"] {
            assert!(
                matches!(
                    SystemNetfilter::in_netns(bad),
                    Err(IptablesError::Netns { .. })
                ),
                "{bad}"
            );
        }
    }
}
