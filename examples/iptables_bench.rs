//! Applying interception rules: one `iptables-restore` transaction vs one `iptables` process
//! per rule (the sequential form of Istio's and Consul's scripts).
//!
//! Sets up its own network namespace (needs root and `ip netns`), then for the default plan
//! and for a plan with 200 extra rules (100 excluded outbound ports and 100 excluded
//! networks) measures, over several runs from a clean namespace:
//!
//! * restore: [`Netfilter::apply`] (one `iptables-save` plus one `iptables-restore --noflush`);
//! * shell: the rendered shell script run with `sh -e` (one `iptables` process per step).
//!
//! It prints the median wall times, their ratio and the processes spawned.
//!
//! ```text
//! sudo cargo run --example iptables_bench
//! ```

use std::process::Command;
use std::time::{Duration, Instant};

use istio_nomad_core::iptables::{
    Family, InterceptConfig, IptablesPlan, Netfilter, SystemNetfilter,
};

const RUNS: usize = 5;

struct Namespace(String);

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).output();
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn plans() -> Result<Vec<(&'static str, IptablesPlan)>, Box<dyn std::error::Error>> {
    let ports: Vec<String> = (20000..20100).map(|p| p.to_string()).collect();
    let cidrs: Vec<String> = (0..100)
        .map(|i| format!("10.{}.{}.0/24", 100 + i / 50, i % 50))
        .collect();
    let big = InterceptConfig::from_flags(&[
        "-o".to_string(),
        ports.join(","),
        "-x".to_string(),
        cidrs.join(","),
    ])?;
    Ok(vec![
        (
            "default plan",
            IptablesPlan::new(&InterceptConfig::default())?,
        ),
        ("200 excluded ports/CIDRs", IptablesPlan::new(&big)?),
    ])
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let name = format!("inm-bench-{}", std::process::id());
    let out = Command::new("ip").args(["netns", "add", &name]).output()?;
    if !out.status.success() {
        return Err(format!(
            "cannot create a network namespace (root and iproute2 needed): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    let ns = Namespace(name);
    let nf = SystemNetfilter::in_netns(&ns.0)?;
    println!(
        "namespace {}, backend {:?}, median of {RUNS} runs\n",
        ns.0,
        nf.backend()?
    );

    for (label, plan) in plans()? {
        let rules: usize = plan
            .family(Family::V4)
            .map_or(0, |f| f.chains.iter().map(|c| c.rules.len()).sum());
        let script = plan.render_shell();
        let commands = script
            .lines()
            .filter(|l| l.starts_with("iptables ") || l.starts_with("ip "))
            .count();
        let (mut restore, mut shell) = (Vec::new(), Vec::new());
        let mut restore_procs = 0;
        for _ in 0..RUNS {
            nf.clean(&plan)?;
            let before = nf.processes_spawned();
            let t = Instant::now();
            nf.apply(&plan)?;
            restore.push(t.elapsed());
            restore_procs = nf.processes_spawned() - before;

            nf.clean(&plan)?;
            let t = Instant::now();
            let out = Command::new("ip")
                .args(["netns", "exec", &ns.0, "sh", "-e", "-c", &script])
                .output()?;
            shell.push(t.elapsed());
            if !out.status.success() {
                return Err(format!(
                    "shell form failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                )
                .into());
            }
            if !plan.is_applied(&nf.state(Family::V4)?) {
                return Err("the shell form did not install the plan".into());
            }
        }
        nf.clean(&plan)?;
        let (r, s) = (median(restore), median(shell));
        println!("{label} ({rules} rules in our chains):");
        println!(
            "  restore transaction: {:>9.2} ms, {restore_procs} processes",
            r.as_secs_f64() * 1e3
        );
        println!(
            "  sequential shell:    {:>9.2} ms, {} processes (sh + {commands} commands)",
            s.as_secs_f64() * 1e3,
            commands + 1
        );
        println!(
            "  shell / restore:     {:>9.1}x\n",
            s.as_secs_f64() / r.as_secs_f64()
        );
    }
    Ok(())
}
