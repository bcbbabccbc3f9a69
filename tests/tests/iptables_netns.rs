//! Real netfilter, real TCP: interception plans applied inside throwaway network namespaces.
//!
//! Layout of every test: namespace `app` (where the rules go) and namespace `peer`, joined by
//! a veth pair: `app` has 10.200.1.1/24, `peer` has 10.200.1.2/24 and 10.200.1.3/24. In
//! `app`, listeners on 15001 ("proxy"), 15006 ("inbound", with IP_TRANSPARENT), 8080 and 9090
//! ("app8080", "app9090"); in `peer`, listeners on 80 and 5432. Each answers with its label,
//! the original destination (SO_ORIGINAL_DST) and its local address. Application traffic is
//! sent as uid/gid 1000 through `setpriv`, the proxy's as 1337.
//!
//! Needs root and `ip netns`: without them the tests fail when CI=true, else they print why
//! they are skipped.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;

use istio_nomad_core::iptables::{
    Backend, Chain, Family, InterceptConfig, IptablesError, IptablesPlan, IstioChain, Netfilter,
    Rule, SystemNetfilter, Table, Target,
};
use istio_nomad_core::Error;
use istio_nomad_tests::netns::{
    connect_as, connect_in, require_netns, respond_in, transparent_listener, veth_pair, Netns,
    Responder,
};
use pretty_assertions::assert_eq;

const PROBE: &str = env!("CARGO_BIN_EXE_netns-probe");

struct Lab {
    app: Netns,
    peer: Netns,
    _servers: Vec<Responder>,
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// User rules that are not ours, in nat and filter; they must survive apply and clean.
const USER_RULES: &str = "\
*filter
:USER_FILTER - [0:0]
-A USER_FILTER -p tcp -m tcp --dport 2222 -j ACCEPT
-A INPUT -j USER_FILTER
COMMIT
*nat
:USER_NAT - [0:0]
-A USER_NAT -p udp -j RETURN
-A OUTPUT -d 10.250.0.0/16 -j USER_NAT
COMMIT
";

fn lab() -> Lab {
    let app = Netns::new("inm-app").unwrap();
    let peer = Netns::new("inm-peer").unwrap();
    veth_pair(&app, "a0", "10.200.1.1/24", &peer, "p0", "10.200.1.2/24").unwrap();
    peer.ip(&["addr", "add", "10.200.1.3/24", "dev", "p0"])
        .unwrap();
    let inbound = app.run_in(|| transparent_listener(15006)).unwrap().unwrap();
    let servers = vec![
        respond_in(&app, 15001, "proxy").unwrap(),
        Responder::start(inbound, "inbound").unwrap(),
        respond_in(&app, 8080, "app8080").unwrap(),
        respond_in(&app, 9090, "app9090").unwrap(),
        respond_in(&peer, 80, "peer80").unwrap(),
        respond_in(&peer, 5432, "peer5432").unwrap(),
    ];
    restore_user_rules(&app);
    Lab {
        app,
        peer,
        _servers: servers,
    }
}

fn restore_user_rules(ns: &Netns) {
    let nf = SystemNetfilter::in_netns(ns.name()).unwrap();
    nf.restore(
        Family::V4,
        USER_RULES,
        istio_nomad_core::iptables::RestoreMode::NoFlush,
    )
    .unwrap();
}

/// `iptables-save` text without comment lines and with counters zeroed.
fn save_text(nf: &SystemNetfilter, family: Family) -> String {
    nf.save(family)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| match l.rfind(" [") {
            Some(i) if l.starts_with(':') => format!("{} [0:0]", &l[..i]),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn normalized(nf: &SystemNetfilter, family: Family) -> String {
    nf.state(family).unwrap().normalized()
}

fn plan(flags: &[&str]) -> IptablesPlan {
    let args: Vec<String> = flags.iter().map(|s| s.to_string()).collect();
    IptablesPlan::new(&InterceptConfig::from_flags(&args).unwrap()).unwrap()
}

fn app_connect(lab: &Lab, uid: u32, to: &str) -> String {
    connect_as(&lab.app, PROBE, uid, uid, addr(to)).unwrap_or_else(|e| format!("error: {e}"))
}

/// The connection reached `label` directly, at `local` (when conntrack is active the original
/// destination is reported as well, and then equals `local`).
fn assert_direct(got: &str, label: &str, local: &str) {
    let ok = got == format!("{label} orig=- local={local}")
        || got == format!("{label} orig={local} local={local}");
    assert!(
        ok,
        "expected a direct connection to {label} at {local}, got {got:?}"
    );
}

fn peer_connect(lab: &Lab, to: &str) -> String {
    connect_in(&lab.peer, addr(to)).unwrap_or_else(|e| format!("error: {e}"))
}

#[test]
fn redirect_captures_app_traffic_and_respects_exclusions() {
    if !require_netns("redirect_captures_app_traffic_and_respects_exclusions") {
        return;
    }
    let lab = lab();
    let nf = SystemNetfilter::in_netns(lab.app.name()).unwrap();
    let pristine = normalized(&nf, Family::V4);
    assert!(
        pristine.contains("-A OUTPUT -d 10.250.0.0/16 -j USER_NAT"),
        "{pristine}"
    );

    // Without rules, the app reaches the peer directly.
    assert_direct(
        &app_connect(&lab, 1000, "10.200.1.2:80"),
        "peer80",
        "10.200.1.2:80",
    );

    let plan = plan(&["-o", "5432", "-x", "10.200.1.3/32", "-d", "9090"]);
    let report = nf.apply(&plan).unwrap();
    assert_eq!(report.transactions, 1);
    assert!(plan.is_applied(&nf.state(Family::V4).unwrap()));

    // App traffic is redirected to the proxy, which sees where the app wanted to go.
    assert_eq!(
        app_connect(&lab, 1000, "10.200.1.2:80"),
        "proxy orig=10.200.1.2:80 local=127.0.0.1:15001"
    );
    // The proxy's own uid is not redirected.
    assert_direct(
        &app_connect(&lab, 1337, "10.200.1.2:80"),
        "peer80",
        "10.200.1.2:80",
    );
    // Excluded outbound port and excluded network are not redirected.
    assert_direct(
        &app_connect(&lab, 1000, "10.200.1.2:5432"),
        "peer5432",
        "10.200.1.2:5432",
    );
    assert_direct(
        &app_connect(&lab, 1000, "10.200.1.3:80"),
        "peer80",
        "10.200.1.3:80",
    );
    // Root is captured too (no hidden root bypass).
    assert_eq!(
        app_connect(&lab, 0, "10.200.1.2:80"),
        "proxy orig=10.200.1.2:80 local=127.0.0.1:15001"
    );
    // Inbound connections from the peer on an included port reach the inbound capture port.
    assert_eq!(
        peer_connect(&lab, "10.200.1.1:8080"),
        "inbound orig=10.200.1.1:8080 local=10.200.1.1:15006"
    );
    // ... but not on an excluded inbound port.
    assert_direct(
        &peer_connect(&lab, "10.200.1.1:9090"),
        "app9090",
        "10.200.1.1:9090",
    );

    // Applying again writes nothing and changes nothing.
    let first = save_text(&nf, Family::V4);
    let spawned = nf.processes_spawned();
    let again = nf.apply(&plan).unwrap();
    assert!(!again.changed());
    assert_eq!(
        nf.processes_spawned() - spawned,
        1,
        "only iptables-save ran"
    );
    assert_eq!(save_text(&nf, Family::V4), first);

    // Cleanup leaves exactly the pristine rules (user chains and rules included).
    let cleaned = nf.clean(&plan).unwrap();
    assert_eq!(cleaned.transactions, 1);
    assert_eq!(normalized(&nf, Family::V4), pristine);
    assert!(!nf.clean(&plan).unwrap().changed());
    assert_direct(
        &app_connect(&lab, 1000, "10.200.1.2:80"),
        "peer80",
        "10.200.1.2:80",
    );
}

#[test]
fn empty_inbound_ports_capture_no_inbound() {
    if !require_netns("empty_inbound_ports_capture_no_inbound") {
        return;
    }
    let lab = lab();
    let nf = SystemNetfilter::in_netns(lab.app.name()).unwrap();
    let plan = plan(&["-b", ""]);
    nf.apply(&plan).unwrap();
    let state = nf.state(Family::V4).unwrap();
    assert!(state
        .chain(Table::Nat, &Chain::Istio(IstioChain::Inbound))
        .is_none());
    assert_direct(
        &peer_connect(&lab, "10.200.1.1:8080"),
        "app8080",
        "10.200.1.1:8080",
    );
    // Outbound is still captured.
    assert_eq!(
        app_connect(&lab, 1000, "10.200.1.2:80"),
        "proxy orig=10.200.1.2:80 local=127.0.0.1:15001"
    );

    // Switching to a port list: one transaction; only port 8080 is captured.
    let list = self::plan(&["-b", "8080"]);
    assert_eq!(nf.apply(&list).unwrap().transactions, 1);
    assert_eq!(
        peer_connect(&lab, "10.200.1.1:8080"),
        "inbound orig=10.200.1.1:8080 local=10.200.1.1:15006"
    );
    assert_direct(
        &peer_connect(&lab, "10.200.1.1:9090"),
        "app9090",
        "10.200.1.1:9090",
    );
    nf.clean(&list).unwrap();
}

#[test]
fn tproxy_inbound_reaches_the_transparent_listener() {
    if !require_netns("tproxy_inbound_reaches_the_transparent_listener") {
        return;
    }
    let lab = lab();
    let nf = SystemNetfilter::in_netns(lab.app.name()).unwrap();
    let pristine = normalized(&nf, Family::V4);
    let plan = plan(&["-m", "TPROXY", "-b", "8080"]);
    match nf.apply(&plan) {
        Ok(_) => {}
        Err(e @ IptablesError::CommandFailed { .. }) if e.to_string().contains("TPROXY") => {
            eprintln!("skipped: TPROXY is not available in this kernel: {e}");
            return;
        }
        Err(e) => panic!("{e}"),
    }
    assert!(plan.is_applied(&nf.state(Family::V4).unwrap()));
    let rules = lab.app.ip(&["-4", "rule", "show"]).unwrap();
    assert!(rules.contains("fwmark 0x539 lookup 133"), "{rules}");
    let routes = lab
        .app
        .ip(&["-4", "route", "show", "table", "133"])
        .unwrap();
    assert_eq!(routes.trim(), "local default dev lo scope host");

    // TPROXY keeps the destination: the transparent listener's local address is what the
    // peer dialed.
    let got = peer_connect(&lab, "10.200.1.1:8080");
    assert!(
        got.starts_with("inbound ") && got.ends_with(" local=10.200.1.1:8080"),
        "{got}"
    );
    // Ports not listed are not captured; outbound is still REDIRECTed.
    assert_direct(
        &peer_connect(&lab, "10.200.1.1:9090"),
        "app9090",
        "10.200.1.1:9090",
    );
    assert_eq!(
        app_connect(&lab, 1000, "10.200.1.2:80"),
        "proxy orig=10.200.1.2:80 local=127.0.0.1:15001"
    );

    assert!(!nf.apply(&plan).unwrap().changed());
    nf.clean(&plan).unwrap();
    assert_eq!(normalized(&nf, Family::V4), pristine);
    assert!(!lab
        .app
        .ip(&["-4", "rule", "show"])
        .unwrap()
        .contains("lookup 133"));
    assert_direct(
        &peer_connect(&lab, "10.200.1.1:8080"),
        "app8080",
        "10.200.1.1:8080",
    );
}

#[test]
fn failed_apply_leaves_the_namespace_as_before() {
    if !require_netns("failed_apply_leaves_the_namespace_as_before") {
        return;
    }
    let ns = Netns::new("inm-fail").unwrap();
    restore_user_rules(&ns);
    let nf = SystemNetfilter::in_netns(ns.name()).unwrap();
    let pristine = normalized(&nf, Family::V4);
    // TPROXY: the mangle table commits first, then the nat table fails on the injected rule.
    let bad = plan(&["-m", "TPROXY"]).with_rule(
        Family::V4,
        Table::Nat,
        IstioChain::Output,
        Rule::new(Target::Jump(Chain::User("ISTIO_MISSING".into()))),
    );
    let err = nf.apply(&bad).unwrap_err();
    assert!(matches!(err, IptablesError::CommandFailed { .. }), "{err}");
    assert_eq!(normalized(&nf, Family::V4), pristine);
    assert!(
        !ns.ip(&["-4", "rule", "show"])
            .unwrap()
            .contains("lookup 133"),
        "routes added are removed"
    );

    // Same on top of an applied plan: the previous rules stay exactly.
    let good = plan(&[]);
    nf.apply(&good).unwrap();
    let applied = save_text(&nf, Family::V4);
    assert!(nf.apply(&bad).is_err());
    // The mangle table did not exist before the failed apply; the rollback leaves it empty
    // (all built-in chains ACCEPT, no rules), which the kernel treats like an absent table.
    assert_eq!(save_text(&nf, Family::V4).replace("*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n", ""), applied);
    assert!(good.is_applied(&nf.state(Family::V4).unwrap()));
    nf.clean(&good).unwrap();
    assert_eq!(normalized(&nf, Family::V4), pristine);
}

#[test]
fn shell_form_installs_the_same_rules_and_cleans_up() {
    if !require_netns("shell_form_installs_the_same_rules_and_cleans_up") {
        return;
    }
    let ns = Netns::new("inm-shell").unwrap();
    restore_user_rules(&ns);
    let nf = SystemNetfilter::in_netns(ns.name()).unwrap();
    let pristine = normalized(&nf, Family::V4);
    let plan = plan(&[
        "-b",
        "9080,9443",
        "-x",
        "10.0.0.0/8",
        "-o",
        "3306",
        "-k",
        "a0",
        "-m",
        "TPROXY",
        "--ipv6",
    ]);
    let pristine6 = normalized(&nf, Family::V6);
    ns.exec_ok("sh", &["-c", &plan.render_shell()]).unwrap();
    assert!(
        plan.is_applied(&nf.state(Family::V4).unwrap()),
        "{}",
        plan.diff(&nf.state(Family::V4).unwrap())
    );
    assert!(
        plan.is_applied(&nf.state(Family::V6).unwrap()),
        "{}",
        plan.diff(&nf.state(Family::V6).unwrap())
    );
    assert!(
        !nf.apply(&plan).unwrap().changed(),
        "apply finds the shell's rules equal"
    );
    ns.exec_ok("sh", &["-c", &plan.render_cleanup_shell()])
        .unwrap();
    assert_eq!(normalized(&nf, Family::V4), pristine);
    assert_eq!(normalized(&nf, Family::V6), pristine6);
    assert_eq!(
        ns.ip(&["-4", "rule", "show"])
            .unwrap()
            .matches("lookup 133")
            .count(),
        0
    );

    // The pure restore texts do the same through iptables-restore --noflush.
    nf.restore(
        Family::V4,
        &plan.render_restore(Family::V4),
        istio_nomad_core::iptables::RestoreMode::NoFlush,
    )
    .unwrap();
    assert!(plan.is_applied(&nf.state(Family::V4).unwrap()));
    nf.restore(
        Family::V4,
        &plan.render_cleanup_restore(Family::V4),
        istio_nomad_core::iptables::RestoreMode::NoFlush,
    )
    .unwrap();
    assert_eq!(normalized(&nf, Family::V4), pristine);
}

#[test]
fn legacy_backend_and_detection() {
    if !require_netns("legacy_backend_and_detection") {
        return;
    }
    let ns = Netns::new("inm-legacy").unwrap();
    let detected = SystemNetfilter::in_netns(ns.name()).unwrap();
    if detected.backend().unwrap() == Backend::Legacy {
        eprintln!("note: the legacy tables already hold rules here");
    }
    let legacy = SystemNetfilter::in_netns(ns.name())
        .unwrap()
        .with_backend(Backend::Legacy);
    if let Err(e) = legacy.save(Family::V4) {
        eprintln!("skipped: iptables-legacy is not usable here: {e}");
        return;
    }
    let plan = plan(&["--ipv6"]);
    legacy.apply(&plan).unwrap();
    let text = ns.exec_ok("iptables-legacy-save", &[]).unwrap();
    assert!(text.contains("-A OUTPUT -p tcp -j ISTIO_OUTPUT"), "{text}");
    assert!(!legacy.apply(&plan).unwrap().changed());
    // With rules in the legacy tables, a fresh detection picks legacy (as Istio does).
    assert_eq!(
        SystemNetfilter::in_netns(ns.name())
            .unwrap()
            .backend()
            .unwrap(),
        Backend::Legacy
    );
    legacy.clean(&plan).unwrap();
    assert_eq!(legacy.state(Family::V4).unwrap().normalized(), "");
    assert_eq!(legacy.state(Family::V6).unwrap().normalized(), "");
    // Without legacy rules, nft is chosen.
    assert_eq!(
        SystemNetfilter::in_netns(ns.name())
            .unwrap()
            .backend()
            .unwrap(),
        Backend::Nft
    );
}

#[test]
fn bad_input_is_refused_and_nothing_is_applied() {
    if !require_netns("bad_input_is_refused_and_nothing_is_applied") {
        return;
    }
    let ns = Netns::new("inm-bad").unwrap();
    restore_user_rules(&ns);
    let nf = SystemNetfilter::in_netns(ns.name()).unwrap();
    let pristine = save_text(&nf, Family::V4);
    let cases: &[(&[&str], &str)] = &[
        (&["-p", "0"], "-p"),
        (&["-z", "65536"], "-z"),
        (&["-u", "4294967295"], "-u"),
        (&["-g", "-5"], "-g"),
        (&["-x", "10.0.0.0/33"], "-x"),
        (&["-i", "1.2.3"], "-i"),
        (&["-k", "eth0;reboot"], "-k"),
        (&["-b", "80,,90"], "-b"),
    ];
    for (flags, setting) in cases {
        let args: Vec<String> = flags.iter().map(|s| s.to_string()).collect();
        match InterceptConfig::from_flags(&args) {
            Err(Error::Iptables(IptablesError::InvalidSetting { setting: s, .. })) => {
                assert_eq!(s, *setting)
            }
            other => panic!("{flags:?}: {other:?}"),
        }
    }
    // A config built in code is checked when the plan is made.
    let cfg = InterceptConfig::new().proxy_port(0).proxy_uids([u32::MAX]);
    let err = IptablesPlan::new(&cfg).unwrap_err();
    let paths: Vec<&str> = err.field_errors().iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        vec!["intercept.proxy_port", "intercept.proxy_uids[0]"]
    );
    assert!(matches!(
        SystemNetfilter::in_netns("eth0;reboot"),
        Err(IptablesError::Netns { .. })
    ));
    assert_eq!(save_text(&nf, Family::V4), pristine);
}
