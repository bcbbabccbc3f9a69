//! Golden files of the rendered interception rules: restore text per family, the shell form
//! and the cleanup, for every kind of config. `UPDATE_GOLDEN=1 cargo test --test
//! iptables_golden` rewrites them after an intended change.
#![allow(clippy::unwrap_used)]

use std::fmt::Write as _;
use std::path::PathBuf;

use istio_nomad_core::iptables::{Family, InterceptConfig, IptablesPlan};
use pretty_assertions::assert_eq;

const CASES: &[(&str, &[&str])] = &[
    ("redirect_all_inbound_all_outbound", &[]),
    ("inbound_port_list", &["-b", "9080,9443", "-d", "15020"]),
    (
        "exclusions",
        &[
            "-d",
            "15020,15090",
            "-o",
            "3306,5432",
            "-x",
            "10.0.0.0/8,172.16.0.0/12,192.168.1.7",
            "-u",
            "1337,1000",
            "-g",
            "2000",
            "--bypass-root",
        ],
    ),
    ("none_inbound_none_outbound", &["-b", "", "-i", ""]),
    (
        "outbound_cidr_list",
        &["-b", "", "-i", "10.96.0.0/12,10.100.0.0/16"],
    ),
    (
        "tproxy_all",
        &["-m", "TPROXY", "-d", "15020", "--bypass-root"],
    ),
    (
        "tproxy_port_list",
        &["-m", "TPROXY", "-b", "8080,9090", "-t", "1338", "-r", "134"],
    ),
    (
        "ipv6",
        &[
            "--ipv6",
            "-i",
            "10.96.0.0/12,fd00:10::/64",
            "-x",
            "fd00::1",
            "-b",
            "9080",
        ],
    ),
    ("ipv6_tproxy", &["--ipv6", "-m", "TPROXY"]),
    (
        "outbound_interfaces",
        &["-k", "eth1,virt0", "-x", "10.1.0.0/16"],
    ),
];

fn render(flags: &[&str]) -> String {
    let args: Vec<String> = flags.iter().map(|s| s.to_string()).collect();
    let plan = IptablesPlan::new(&InterceptConfig::from_flags(&args).unwrap()).unwrap();
    let mut out = String::new();
    let quoted: Vec<String> = args
        .iter()
        .map(|a| istio_nomad_core::iptables::shell_quote(a))
        .collect();
    let _ = writeln!(out, "# flags: {}", quoted.join(" "));
    for fp in plan.families() {
        let _ = write!(
            out,
            "\n## iptables-restore --noflush ({})\n{}",
            fp.family,
            plan.render_restore(fp.family)
        );
    }
    let _ = write!(out, "\n## shell\n{}", plan.render_shell());
    for family in [Family::V4, Family::V6] {
        if plan.family(family).is_some() {
            let _ = write!(
                out,
                "\n## cleanup, iptables-restore --noflush ({family})\n{}",
                plan.render_cleanup_restore(family)
            );
        }
    }
    let _ = write!(out, "\n## cleanup, shell\n{}", plan.render_cleanup_shell());
    out
}

#[test]
fn rendered_rules_match_golden_files() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/iptables");
    let update = std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    for (name, flags) in CASES {
        let path = dir.join(format!("{name}.golden"));
        let got = render(flags);
        if update {
            std::fs::write(&path, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run with UPDATE_GOLDEN=1 to create it)",
                path.display()
            )
        });
        assert_eq!(
            got,
            want,
            "{name}: rendered text differs from {}",
            path.display()
        );
    }
}
