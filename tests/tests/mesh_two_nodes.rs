//! Real packets across two simulated nodes: the Bookinfo plan's own interception rules in
//! every allocation, and a request from an allocation on node 1 to the address and port that
//! `verify` predicts Consul holds for a service on node 2.
//!
//! ```text
//!   node 1 (netns)                                  node 2 (netns)
//!   eth0 10.0.0.1/24 <======= veth link =======> eth0 10.0.0.2/24
//!   route 10.10.2.0/24 via 10.0.0.2              route 10.10.1.0/24 via 10.0.0.1
//!   br0 10.10.1.1/24                             br0 10.10.2.1/24
//!    |- alloc productpage 10.10.1.2 (client)      |- alloc reviews-v1 10.10.2.2 (app :9080)
//!    '- alloc details     10.10.1.3               '- alloc ratings    10.10.2.3
//! ```
//!
//! Each node has its own, routed allocation subnet: what a CNI network with cluster-wide
//! addresses gives (the plan uses `sidecar { cni_network = "mesh" }`). Every allocation gets
//! the rules file the plan renders for its group, applied with `iptables-restore --noflush`
//! as the group's init task does. Stand-ins for the proxy (`netns-probe relay`, uid 1337) listen
//! on the capture ports: they read the original destination and connect onwards (outbound) or
//! to the app on 127.0.0.1 (inbound), as Envoy does.
//!
//! Needs root and `ip netns`; with `CI=true` a missing capability fails the test.
#![allow(clippy::unwrap_used)]

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use istio_nomad_core::nomad::registration::{AddressSource, PortSource};
use istio_nomad_core::plan::verify::verify;
use istio_nomad_core::plan::{plan, Plan};
use istio_nomad_core::spec::MeshSpec;
use istio_nomad_tests::netns::{require_netns, veth_pair, Netns};

const PROBE: &str = env!("CARGO_BIN_EXE_netns-probe");
const PROXY_UID: u32 = 1337;
const APP_UID: u32 = 1000;

/// One allocation: its namespace, address and the plan's (job, group).
struct Alloc {
    ns: Netns,
    ip: String,
    job: &'static str,
    group: &'static str,
}

struct Node {
    ns: Netns,
    allocs: Vec<Alloc>,
}

fn ip(ns: &Netns, args: &[&str]) {
    ns.ip(args)
        .unwrap_or_else(|e| panic!("ip -n {} {args:?}: {e}", ns.name()));
}

/// A node namespace with a bridge for its allocation subnet `10.10.<n>.0/24`.
fn node(n: u8) -> Node {
    let ns = Netns::new(&format!("mesh-node{n}")).unwrap();
    ip(&ns, &["link", "add", "br0", "type", "bridge"]);
    ip(
        &ns,
        &["addr", "add", &format!("10.10.{n}.1/24"), "dev", "br0"],
    );
    ip(&ns, &["link", "set", "br0", "up"]);
    let out = ns
        .exec_ok("sysctl", &["-q", "-w", "net.ipv4.ip_forward=1"])
        .unwrap();
    assert_eq!(out, "");
    Node {
        ns,
        allocs: Vec::new(),
    }
}

/// An allocation namespace on `node`'s bridge at `10.10.<n>.<host>`.
fn alloc(node: &mut Node, n: u8, host: u8, job: &'static str, group: &'static str) {
    let ns = Netns::new(&format!("mesh-a{n}{host}")).unwrap();
    let peer = format!("v{n}{host}");
    let out = Command::new("ip")
        .args([
            "link",
            "add",
            "eth0",
            "netns",
            ns.name(),
            "type",
            "veth",
            "peer",
            "name",
        ])
        .args([&peer, "netns", node.ns.name()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    ip(&node.ns, &["link", "set", &peer, "master", "br0"]);
    ip(&node.ns, &["link", "set", &peer, "up"]);
    let addr = format!("10.10.{n}.{host}");
    ip(&ns, &["addr", "add", &format!("{addr}/24"), "dev", "eth0"]);
    ip(&ns, &["link", "set", "eth0", "up"]);
    ip(
        &ns,
        &["route", "add", "default", "via", &format!("10.10.{n}.1")],
    );
    node.allocs.push(Alloc {
        ns,
        ip: addr,
        job,
        group,
    });
}

/// Applies the plan's rules file of the allocation's group, as the init task does.
fn apply_rules(plan: &Plan, a: &Alloc) {
    let rules = plan
        .iptables
        .iter()
        .find(|r| r.job == a.job && r.group == a.group)
        .unwrap_or_else(|| panic!("no rules for {}/{}", a.job, a.group));
    let mut child = Command::new("ip")
        .args([
            "netns",
            "exec",
            a.ns.name(),
            "iptables-restore",
            "--noflush",
        ])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(rules.restore.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A proxy stand-in on `port` in the allocation, as uid 1337, logging to `log`.
struct Relay {
    child: Child,
    log: std::path::PathBuf,
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Relay {
    fn start(a: &Alloc, port: u16, dir: &std::path::Path) -> Relay {
        let log = dir.join(format!("{}-{port}.log", a.group));
        let child = Command::new("ip")
            .args(["netns", "exec", a.ns.name(), "setpriv"])
            .args([
                &format!("--reuid={PROXY_UID}"),
                &format!("--regid={PROXY_UID}"),
                "--clear-groups",
                PROBE,
                "relay",
                &port.to_string(),
                log.to_str().unwrap(),
                &a.ip,
            ])
            .spawn()
            .unwrap();
        let relay = Relay { child, log };
        // Listening once a connection to the port on loopback is accepted (root's loopback
        // traffic is not captured; the relay closes a connection that was not redirected).
        for _ in 0..100 {
            let probe =
                a.ns.exec(PROBE, &["connect", &format!("127.0.0.1:{port}")])
                    .unwrap();
            // The relay accepts and, with no original destination, closes: success.
            if probe.status.success() {
                return relay;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("relay on {}:{port} did not start", a.ip);
    }

    fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

/// The app: answers one line per connection with `<name> answered <line> from <peer ip>`.
fn app(a: &Alloc, port: u16, name: &'static str) {
    let listener =
        a.ns.run_in(move || TcpListener::bind(("0.0.0.0", port)))
            .unwrap()
            .unwrap();
    std::thread::spawn(move || {
        use std::io::{BufRead, BufReader, Write};
        for conn in listener.incoming() {
            let Ok(mut s) = conn else { continue };
            let peer = s
                .peer_addr()
                .map(|p| p.ip().to_string())
                .unwrap_or_default();
            let mut line = String::new();
            if BufReader::new(&s).read_line(&mut line).is_ok() {
                let _ = writeln!(s, "{name} answered {:?} from {peer}", line.trim_end());
            }
        }
    });
}

/// `netns-probe request` from inside `a` as `uid`.
fn request(a: &Alloc, uid: u32, to: SocketAddr, text: &str) -> Result<String, String> {
    let out =
        a.ns.exec(
            "setpriv",
            &[
                &format!("--reuid={uid}"),
                &format!("--regid={uid}"),
                "--clear-groups",
                PROBE,
                "request",
                &to.to_string(),
                text,
            ],
        )
        .unwrap();
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn bookinfo(version: &str) -> MeshSpec {
    let mut spec = MeshSpec::from_file(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/bookinfo.mesh.hcl"
    ))
    .unwrap();
    spec.istio_version = version.parse().unwrap();
    spec.sidecar.cni_network = Some("mesh".into());
    spec
}

fn two_nodes(version: &str) {
    let plan = plan(&bookinfo(version)).unwrap();
    let report = verify(&plan);
    assert!(!report.has_errors(), "{report}");

    // node 1 runs productpage and details, node 2 reviews-v1 and ratings.
    let mut n1 = node(1);
    let mut n2 = node(2);
    veth_pair(&n1.ns, "eth0", "10.0.0.1/24", &n2.ns, "eth0", "10.0.0.2/24").unwrap();
    ip(&n1.ns, &["route", "add", "10.10.2.0/24", "via", "10.0.0.2"]);
    ip(&n2.ns, &["route", "add", "10.10.1.0/24", "via", "10.0.0.1"]);
    alloc(&mut n1, 1, 2, "productpage", "productpage");
    alloc(&mut n1, 1, 3, "details", "details");
    alloc(&mut n2, 2, 2, "reviews", "reviews-v1");
    alloc(&mut n2, 2, 3, "ratings", "ratings");
    for a in n1.allocs.iter().chain(&n2.allocs) {
        apply_rules(&plan, a);
    }
    let (client, server) = (&n1.allocs[0], &n2.allocs[0]);

    // What Consul holds for reviews-v1, as verify predicts it: the allocation's address and
    // the port the app listens on.
    let reg = report
        .registrations
        .iter()
        .find(|r| r.group == "reviews-v1")
        .unwrap();
    assert_eq!(reg.endpoint.address, AddressSource::Allocation);
    let PortSource::Fixed(port) = reg.endpoint.port else {
        panic!("{:?}", reg.endpoint.port)
    };
    assert_eq!(port, 9080);
    let target: SocketAddr = format!("{}:{port}", server.ip).parse().unwrap();

    // The capture ports of this release, from the rules the plan rendered.
    let rules = &plan.iptables[0].restore;
    let outbound: u16 = capture_port(rules, "ISTIO_REDIRECT");
    let inbound: u16 = capture_port(rules, "ISTIO_IN_REDIRECT");
    assert_eq!(outbound, 15001);
    assert_eq!(inbound, if version == "1.0.0" { 15001 } else { 15006 });

    app(server, port, "reviews-v1");
    let dir = tempfile::tempdir().unwrap();
    // The relays run as the proxy's uid and write their logs here.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let mut relays = Vec::new();
    for a in [client, server] {
        relays.push(Relay::start(a, outbound, dir.path()));
        if inbound != outbound {
            relays.push(Relay::start(a, inbound, dir.path()));
        }
    }
    let client_out = &relays[0];
    let server_in = if inbound == outbound {
        &relays[1]
    } else {
        &relays[3]
    };
    let before_out = client_out.lines().len();
    let before_in = server_in.lines().len();

    // The app on node 1 dials reviews-v1 on node 2; the proxies on both sides see it.
    let answer = request(client, APP_UID, target, "GET /reviews/0").unwrap();
    assert_eq!(
        answer,
        "reviews-v1 answered \"GET /reviews/0\" from 127.0.0.1\n"
    );
    let out_lines = client_out.lines();
    assert_eq!(
        &out_lines[before_out..],
        [format!(
            "peer={} orig={target} upstream={target} uid={PROXY_UID}",
            client.ip
        )]
    );
    let in_lines = server_in.lines();
    assert_eq!(
        &in_lines[before_in..],
        [format!(
            "peer={} orig={target} upstream=127.0.0.1:{port} uid={PROXY_UID}",
            client.ip
        )]
    );

    // The proxy's uid bypasses the outbound capture on node 1; node 2 still captures inbound.
    let answer = request(client, PROXY_UID, target, "GET /reviews/1").unwrap();
    assert_eq!(
        answer,
        "reviews-v1 answered \"GET /reviews/1\" from 127.0.0.1\n"
    );
    assert_eq!(client_out.lines().len(), out_lines.len());
    assert_eq!(
        server_in.lines()[in_lines.len()..],
        [format!(
            "peer={} orig={target} upstream=127.0.0.1:{port} uid={PROXY_UID}",
            client.ip
        )]
    );

    // Without its proxy, the captured connection does not reach the app: the rules, not the
    // routes, carried the requests above.
    drop(relays);
    assert!(request(client, APP_UID, target, "GET /reviews/2").is_err());
}

/// The `--to-ports` of the REDIRECT rule in `chain`.
fn capture_port(rules: &str, chain: &str) -> u16 {
    rules
        .lines()
        .find(|l| l.starts_with(&format!("-A {chain} ")) && l.contains("--to-ports"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no REDIRECT in {chain}:\n{rules}"))
}

#[test]
fn bookinfo_1_0_carries_a_request_across_two_nodes() {
    if !require_netns("bookinfo_1_0_carries_a_request_across_two_nodes") {
        return;
    }
    two_nodes("1.0.0");
}

#[test]
fn bookinfo_1_3_carries_a_request_across_two_nodes() {
    if !require_netns("bookinfo_1_3_carries_a_request_across_two_nodes") {
        return;
    }
    two_nodes("1.3.8");
}
