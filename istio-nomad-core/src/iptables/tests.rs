#![allow(clippy::unwrap_used)]

use pretty_assertions::assert_eq;

use super::*;
use crate::Error;

fn flags(s: &[&str]) -> Vec<String> {
    s.iter().map(|s| s.to_string()).collect()
}

fn chain_lines(
    plan: &IptablesPlan,
    family: Family,
    table: Table,
    chain: IstioChain,
) -> Vec<String> {
    plan.family(family)
        .unwrap()
        .chain(table, chain)
        .unwrap()
        .iter()
        .map(|r| r.to_string())
        .collect()
}

const DEFAULT_V4: &str = "\
*nat
:ISTIO_REDIRECT - [0:0]
:ISTIO_IN_REDIRECT - [0:0]
:ISTIO_INBOUND - [0:0]
:ISTIO_OUTPUT - [0:0]
-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
-A ISTIO_INBOUND -p tcp -m tcp --dport 22 -j RETURN
-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT
-A ISTIO_OUTPUT -s 127.0.0.6/32 -o lo -j RETURN
-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
-A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN
-A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
-A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN
-A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
-A ISTIO_OUTPUT -j ISTIO_REDIRECT
-A PREROUTING -p tcp -j ISTIO_INBOUND
-A OUTPUT -p tcp -j ISTIO_OUTPUT
COMMIT
";

#[test]
fn default_plan_is_istio_redirect_all_all() {
    let plan = IptablesPlan::new(&InterceptConfig::default()).unwrap();
    assert_eq!(plan.render_restore(Family::V4), DEFAULT_V4);
    assert_eq!(plan.render_restore(Family::V6), "");
    assert!(plan.family(Family::V4).unwrap().routes.is_empty());
    assert_eq!(
        plan.render_cleanup_restore(Family::V4),
        "*nat\n:ISTIO_OUTPUT - [0:0]\n:ISTIO_INBOUND - [0:0]\n:ISTIO_REDIRECT - [0:0]\n\
         :ISTIO_IN_REDIRECT - [0:0]\n-D PREROUTING -p tcp -j ISTIO_INBOUND\n\
         -D OUTPUT -p tcp -j ISTIO_OUTPUT\n-X ISTIO_OUTPUT\n-X ISTIO_INBOUND\n-X ISTIO_REDIRECT\n\
         -X ISTIO_IN_REDIRECT\nCOMMIT\n"
    );
    let rf = plan.rules_file();
    assert_eq!(rf.v4, DEFAULT_V4);
    assert_eq!(rf.v6, None);
    assert!(rf.ip_commands.is_empty());
}

#[test]
fn inbound_port_list_and_exclusions() {
    let cfg = InterceptConfig::from_flags(&flags(&[
        "-b",
        "9080,9443",
        "-d",
        "15020",
        "-o",
        "3306",
        "-x",
        "10.0.0.0/8,192.168.1.7",
        "-u",
        "1337,1000",
        "-g",
        "2000",
        "-i",
        "*",
    ]))
    .unwrap();
    assert_eq!(cfg.exclude_inbound_ports, vec![15020]);
    let plan = IptablesPlan::new(&cfg).unwrap();
    // -d only applies with all inbound ports, as in Istio.
    assert_eq!(
        chain_lines(&plan, Family::V4, Table::Nat, IstioChain::Inbound),
        vec![
            "-p tcp -m tcp --dport 9080 -j ISTIO_IN_REDIRECT",
            "-p tcp -m tcp --dport 9443 -j ISTIO_IN_REDIRECT"
        ]
    );
    assert_eq!(
        chain_lines(&plan, Family::V4, Table::Nat, IstioChain::Output),
        vec![
            "-p tcp -m tcp --dport 3306 -j RETURN",
            "-s 127.0.0.6/32 -o lo -j RETURN",
            "! -d 127.0.0.1/32 -o lo -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT",
            "-o lo -m owner ! --uid-owner 1337 -j RETURN",
            "-m owner --uid-owner 1337 -j RETURN",
            "! -d 127.0.0.1/32 -o lo -m owner --uid-owner 1000 -j ISTIO_IN_REDIRECT",
            "-o lo -m owner ! --uid-owner 1000 -j RETURN",
            "-m owner --uid-owner 1000 -j RETURN",
            "! -d 127.0.0.1/32 -o lo -m owner --gid-owner 2000 -j ISTIO_IN_REDIRECT",
            "-o lo -m owner ! --gid-owner 2000 -j RETURN",
            "-m owner --gid-owner 2000 -j RETURN",
            "-d 127.0.0.1/32 -j RETURN",
            "-d 10.0.0.0/8 -j RETURN",
            "-d 192.168.1.7/32 -j RETURN",
            "-j ISTIO_REDIRECT",
        ]
    );
}

#[test]
fn all_inbound_with_exclusions_and_outbound_list() {
    let cfg = InterceptConfig::new()
        .exclude_inbound_ports([15020, 15090])
        .outbound_cidrs(CidrSelection::List(vec!["10.96.0.0/12".parse().unwrap()]))
        .bypass_root(true)
        .build()
        .unwrap();
    let plan = IptablesPlan::new(&cfg).unwrap();
    assert_eq!(
        chain_lines(&plan, Family::V4, Table::Nat, IstioChain::Inbound),
        vec![
            "-p tcp -m tcp --dport 22 -j RETURN",
            "-p tcp -m tcp --dport 15020 -j RETURN",
            "-p tcp -m tcp --dport 15090 -j RETURN",
            "-p tcp -j ISTIO_IN_REDIRECT",
        ]
    );
    let out = chain_lines(&plan, Family::V4, Table::Nat, IstioChain::Output);
    // Root is an explicit choice: uid 0 and gid 0 rules follow 1337's.
    assert_eq!(
        out[4..7],
        [
            "! -d 127.0.0.1/32 -o lo -m owner --uid-owner 0 -j ISTIO_IN_REDIRECT",
            "-o lo -m owner ! --uid-owner 0 -j RETURN",
            "-m owner --uid-owner 0 -j RETURN"
        ]
    );
    assert_eq!(
        out[out.len() - 3..],
        [
            "-d 127.0.0.1/32 -j RETURN",
            "-d 10.96.0.0/12 -j ISTIO_REDIRECT",
            "-j RETURN"
        ]
    );
    // Without bypass_root, root is captured (no uid 0 rule), unlike Istio's hidden ",0".
    let plain = IptablesPlan::new(&InterceptConfig::default()).unwrap();
    assert!(!plain.render_restore(Family::V4).contains("--uid-owner 0 "));
}

#[test]
fn none_inbound_none_outbound() {
    let cfg = InterceptConfig::from_flags(&flags(&["-b", "", "-i", ""])).unwrap();
    assert_eq!(cfg.inbound_ports, PortSelection::None);
    assert_eq!(cfg.outbound_cidrs, CidrSelection::None);
    let plan = IptablesPlan::new(&cfg).unwrap();
    let fp = plan.family(Family::V4).unwrap();
    assert!(fp.chain(Table::Nat, IstioChain::Inbound).is_none());
    assert_eq!(fp.hooks.len(), 1);
    assert_eq!(fp.hooks[0].rule.to_string(), "-p tcp -j ISTIO_OUTPUT");
    let out = chain_lines(&plan, Family::V4, Table::Nat, IstioChain::Output);
    assert_eq!(out.last().unwrap(), "-d 127.0.0.1/32 -j RETURN");
    assert!(!out.iter().any(|r| r.ends_with("-j ISTIO_REDIRECT")));
}

#[test]
fn tproxy_rules_and_routes() {
    let cfg = InterceptConfig::from_flags(&flags(&[
        "-m", "TPROXY", "-b", "8080", "-t", "0x100", "-r", "100",
    ]))
    .unwrap();
    let plan = IptablesPlan::new(&cfg).unwrap();
    assert_eq!(
        chain_lines(&plan, Family::V4, Table::Mangle, IstioChain::Divert),
        vec!["-j MARK --set-xmark 0x100/0xffffffff", "-j ACCEPT"]
    );
    assert_eq!(
        chain_lines(&plan, Family::V4, Table::Mangle, IstioChain::Tproxy),
        vec!["! -d 127.0.0.1/32 -p tcp -j TPROXY --on-port 15006 --on-ip 0.0.0.0 --tproxy-mark 0x100/0xffffffff"]
    );
    assert_eq!(
        chain_lines(&plan, Family::V4, Table::Mangle, IstioChain::Inbound),
        vec![
            "-p tcp -m tcp --dport 8080 -m conntrack --ctstate RELATED,ESTABLISHED -j ISTIO_DIVERT",
            "-p tcp -m tcp --dport 8080 -j ISTIO_TPROXY",
        ]
    );
    let fp = plan.family(Family::V4).unwrap();
    assert!(fp.chain(Table::Nat, IstioChain::Inbound).is_none());
    assert_eq!(fp.tables(), vec![Table::Mangle, Table::Nat]);
    assert_eq!(
        plan.rules_file().ip_commands,
        vec![
            flags(&["-4", "rule", "add", "fwmark", "256", "lookup", "100"]),
            flags(&["-4", "route", "add", "local", "default", "dev", "lo", "table", "100"]),
        ]
    );
    assert!(plan
        .render_cleanup_shell()
        .contains("ip -4 rule del fwmark 256 lookup 100 2>/dev/null || true\n"));
}

#[test]
fn ipv6_mirrors_ipv4() {
    let cfg =
        InterceptConfig::from_flags(&flags(&["--ipv6", "-x", "10.0.0.0/8,fd00::/8"])).unwrap();
    let plan = IptablesPlan::new(&cfg).unwrap();
    let v6 = chain_lines(&plan, Family::V6, Table::Nat, IstioChain::Output);
    assert_eq!(v6[0], "-s ::6/128 -o lo -j RETURN");
    assert_eq!(
        v6[1],
        "! -d ::1/128 -o lo -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT"
    );
    assert_eq!(
        v6[v6.len() - 3..],
        [
            "-d ::1/128 -j RETURN",
            "-d fd00::/8 -j RETURN",
            "-j ISTIO_REDIRECT"
        ]
    );
    let v4 = chain_lines(&plan, Family::V4, Table::Nat, IstioChain::Output);
    assert!(v4.contains(&"-d 10.0.0.0/8 -j RETURN".to_string()));
    assert!(!v4.iter().any(|r| r.contains("fd00")));
    assert_eq!(
        plan.rules_file().v6.unwrap(),
        plan.render_restore(Family::V6)
    );
}

#[test]
fn outbound_interfaces_go_to_the_top_of_prerouting() {
    let cfg =
        InterceptConfig::from_flags(&flags(&["-k", "eth1,virt0", "-x", "10.1.0.0/16"])).unwrap();
    let plan = IptablesPlan::new(&cfg).unwrap();
    let text = plan.render_restore(Family::V4);
    let hooks: Vec<&str> = text
        .lines()
        .filter(|l| {
            l.starts_with("-I ") || l.starts_with("-A PREROUTING") || l.starts_with("-A OUTPUT")
        })
        .collect();
    assert_eq!(
        hooks,
        vec![
            "-I PREROUTING 1 -d 10.1.0.0/16 -i eth1 -j RETURN",
            "-I PREROUTING 2 -i eth1 -j ISTIO_REDIRECT",
            "-I PREROUTING 3 -d 10.1.0.0/16 -i virt0 -j RETURN",
            "-I PREROUTING 4 -i virt0 -j ISTIO_REDIRECT",
            "-A PREROUTING -p tcp -j ISTIO_INBOUND",
            "-A OUTPUT -p tcp -j ISTIO_OUTPUT",
        ]
    );
}

#[test]
fn shell_form_quotes_and_orders() {
    let plan = IptablesPlan::new(&InterceptConfig::default()).unwrap();
    let sh = plan.render_shell();
    let lines: Vec<&str> = sh.lines().collect();
    assert_eq!(lines[0], "#!/bin/sh");
    assert_eq!(lines[2], "set -e");
    assert_eq!(lines[3], "iptables -t nat -N ISTIO_REDIRECT");
    assert!(lines.contains(&"iptables -t nat -A ISTIO_OUTPUT '!' -d 127.0.0.1/32 -o lo -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT"));
    assert_eq!(
        lines[lines.len() - 1],
        "iptables -t nat -A OUTPUT -p tcp -j ISTIO_OUTPUT"
    );
    // One command per step: 4 chains + 13 rules + 2 jumps.
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("iptables ")).count(),
        19
    );
}

#[test]
fn flags_parse_and_reject() {
    let cfg = InterceptConfig::from_flags(&flags(&[
        "-p",
        "15001",
        "-z",
        "15006",
        "-u",
        "1337",
        "-m",
        "REDIRECT",
        "-b",
        "*",
        "-d",
        "15020, 15090",
        "-i",
        "10.0.0.0/8",
        "-k",
        "eth1",
        "-t",
        "1337",
        "-r",
        "133",
    ]))
    .unwrap();
    assert_eq!(cfg.exclude_inbound_ports, vec![15020, 15090]);
    assert_eq!(
        cfg.outbound_cidrs,
        CidrSelection::List(vec!["10.0.0.0/8".parse().unwrap()])
    );
    assert_eq!(
        cfg.outbound_interfaces,
        vec![InterfaceName::new("eth1").unwrap()]
    );

    let cases: &[(&[&str], &str, &str)] = &[
        (&["-p", "0"], "-p", "0"),
        (&["-p", "65536"], "-p", "65536"),
        (&["-z", "-1"], "-z", "-1"),
        (&["-u", "4294967295"], "-u", "4294967295"),
        (&["-g", "1337,99999999999"], "-g", "99999999999"),
        (&["-x", "10.0.0.0/33"], "-x", "10.0.0.0/33"),
        (&["-i", "1.2.3"], "-i", "1.2.3"),
        (&["-k", "eth0;reboot"], "-k", "eth0;reboot"),
        (&["-b", "80,,90"], "-b", "80,,90"),
        (&["-d", "80,"], "-d", "80,"),
        (&["-m", "tproxy"], "-m", "tproxy"),
        (&["-q", "1"], "-q", "-q"),
        (&["-p"], "-p", ""),
        (&["-p", "1", "-p", "2"], "-p", "-p"),
        (&["-t", "0x1ffffffff"], "-t", "0x1ffffffff"),
    ];
    for (args, setting, value) in cases {
        match InterceptConfig::from_flags(&flags(args)) {
            Err(Error::Iptables(IptablesError::InvalidSetting {
                setting: s,
                value: v,
                ..
            })) => {
                assert_eq!((s.as_str(), v.as_str()), (*setting, *value), "{args:?}");
            }
            other => panic!("{args:?}: {other:?}"),
        }
    }
    let e = InterceptConfig::from_flags(&flags(&["-b", "80,,90"])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid -b \"80,,90\": item 2 of the list is empty"
    );
    let e = InterceptConfig::from_flags(&flags(&["-o", "80,0"])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid -o \"0\": item 2: port must be between 1 and 65535"
    );
}

#[test]
fn validation_names_the_field_and_value() {
    let cfg = InterceptConfig::new()
        .proxy_port(0)
        .exclude_inbound_ports([80, 90, 0])
        .proxy_uids([u32::MAX])
        .exclude_outbound_cidrs(["fd00::/8".parse().unwrap()])
        .tproxy_route_table(254);
    let err = cfg.validate().unwrap_err();
    let got: Vec<(String, Option<String>)> = err
        .field_errors()
        .iter()
        .map(|e| (e.path.clone(), e.value.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("intercept.proxy_port".to_string(), Some("0".to_string())),
            (
                "intercept.exclude_inbound_ports[2]".to_string(),
                Some("0".to_string())
            ),
            (
                "intercept.proxy_uids[0]".to_string(),
                Some("4294967295".to_string())
            ),
            (
                "intercept.exclude_outbound_cidrs[0]".to_string(),
                Some("fd00::/8".to_string())
            ),
            (
                "intercept.tproxy_route_table".to_string(),
                Some("254".to_string())
            ),
        ]
    );
    assert!(IptablesPlan::new(&cfg).is_err());
    let dup = InterceptConfig::new()
        .exclude_outbound_ports([80, 80])
        .validate()
        .unwrap_err();
    assert_eq!(
        dup.field_errors()[0].path,
        "intercept.exclude_outbound_ports[1]"
    );
}

#[test]
fn env_variables_and_files() {
    let cfg = InterceptConfig::from_env_map([
        ("ISTIO_INBOUND_PORTS", "3306,8080"),
        ("ISTIO_LOCAL_EXCLUDE_PORTS", "15020"),
        ("ISTIO_INBOUND_EXCLUDE_PORTS", "15020,15090"),
        ("ISTIO_SERVICE_CIDR", "10.96.0.0/12"),
        ("ISTIO_SERVICE_EXCLUDE_CIDR", "10.96.0.1/32"),
        ("ISTIO_LOCAL_OUTBOUND_PORTS_EXCLUDE", "5432"),
        ("ISTIO_INBOUND_INTERCEPTION_MODE", "TPROXY"),
        ("ISTIO_INBOUND_TPROXY_MARK", "1338"),
        ("ISTIO_INBOUND_TPROXY_ROUTE_TABLE", "134"),
        ("ENVOY_PORT", "15002"),
        ("INBOUND_CAPTURE_PORT", "15007"),
        ("ISTIO_SERVICE", "ignored"),
    ])
    .unwrap();
    let expected = InterceptConfig::new()
        .inbound_ports(PortSelection::List(vec![3306, 8080]))
        .exclude_inbound_ports([15020, 15090])
        .outbound_cidrs(CidrSelection::List(vec!["10.96.0.0/12".parse().unwrap()]))
        .exclude_outbound_cidrs(["10.96.0.1".parse().unwrap()])
        .exclude_outbound_ports([5432])
        .mode(InterceptionMode::Tproxy)
        .tproxy_mark(1338)
        .tproxy_route_table(134)
        .proxy_port(15002)
        .inbound_capture_port(15007);
    assert_eq!(cfg, expected);
    // Absent: default (all); present but empty: none.
    assert_eq!(
        InterceptConfig::from_env_map([("ISTIO_INBOUND_PORTS", "")])
            .unwrap()
            .inbound_ports,
        PortSelection::None
    );
    assert_eq!(
        InterceptConfig::from_env_map(Vec::<(String, String)>::new()).unwrap(),
        InterceptConfig::default()
    );
    match InterceptConfig::from_env_map([("ISTIO_SERVICE_EXCLUDE_CIDR", "10.0.0.0/8,1.2.3")]) {
        Err(Error::Iptables(IptablesError::InvalidSetting { setting, value, .. })) => {
            assert_eq!(
                (setting.as_str(), value.as_str()),
                ("ISTIO_SERVICE_EXCLUDE_CIDR", "1.2.3")
            );
        }
        other => panic!("{other:?}"),
    }

    let dir = tempfile::tempdir().unwrap();
    let cluster = dir.path().join("cluster.env");
    let sidecar = dir.path().join("sidecar.env");
    std::fs::write(&cluster, "ISTIO_SERVICE_CIDR=10.96.0.0/12\nISTIO_SYSTEM_NAMESPACE=istio-system\nISTIO_CP_AUTH=MUTUAL_TLS\n").unwrap();
    std::fs::write(
        &sidecar,
        "# sidecar.env\n#ISTIO_INBOUND_PORTS=\nexport ISTIO_INBOUND_PORTS=\"3306,8080\"\nISTIO_SERVICE_CIDR='*' # all\n\n",
    )
    .unwrap();
    let cfg =
        InterceptConfig::from_env_files(&[cluster.to_str().unwrap(), sidecar.to_str().unwrap()])
            .unwrap();
    assert_eq!(cfg.inbound_ports, PortSelection::List(vec![3306, 8080]));
    assert_eq!(
        cfg.outbound_cidrs,
        CidrSelection::All,
        "the later file wins"
    );

    std::fs::write(&sidecar, "OK=1\nISTIO_INBOUND_PORTS=$PORTS\n").unwrap();
    match InterceptConfig::from_env_files(&[sidecar.to_str().unwrap()]) {
        Err(Error::Parse(p)) => {
            assert_eq!(p.line, Some(2));
            assert_eq!(p.path.as_deref(), sidecar.to_str());
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        InterceptConfig::from_env_files(&["/nonexistent/sidecar.env"]),
        Err(Error::Io { .. })
    ));
}

#[test]
fn serde_uses_snake_case_and_validates_values() {
    let cfg = InterceptConfig::new()
        .inbound_ports(PortSelection::List(vec![80]))
        .outbound_cidrs(CidrSelection::None)
        .exclude_outbound_cidrs(["10.1.2.3/8".parse().unwrap()]);
    let json = serde_json::to_value(&cfg).unwrap();
    assert_eq!(json["inbound_ports"], serde_json::json!([80]));
    assert_eq!(json["outbound_cidrs"], serde_json::json!("none"));
    assert_eq!(
        json["exclude_outbound_cidrs"],
        serde_json::json!(["10.0.0.0/8"])
    );
    assert_eq!(json["mode"], serde_json::json!("redirect"));
    let back: InterceptConfig = serde_json::from_value(json).unwrap();
    assert_eq!(back, cfg);
    assert!(
        serde_json::from_str::<InterceptConfig>(r#"{"outbound_interfaces":["eth0;reboot"]}"#)
            .is_err()
    );
    assert!(
        serde_json::from_str::<InterceptConfig>(r#"{"exclude_outbound_cidrs":["1.2.3"]}"#).is_err()
    );
    assert!(serde_json::from_str::<InterceptConfig>(r#"{"proxy_port":65536}"#).is_err());
    assert!(serde_json::from_str::<InterceptConfig>(r#"{"unknown":1}"#).is_err());
}

fn all_configs() -> Vec<InterceptConfig> {
    [
        &[][..],
        &["-b", "9080,9443", "-d", "15020"],
        &[
            "-d",
            "15020,15090",
            "-o",
            "3306",
            "-x",
            "10.0.0.0/8,172.16.0.0/12",
            "-u",
            "1337,1000",
            "-g",
            "2000",
        ],
        &["-b", "", "-i", ""],
        &["-m", "TPROXY", "-b", "*", "-d", "15020", "--bypass-root"],
        &["-m", "TPROXY", "-b", "8080,9090", "--ipv6"],
        &["--ipv6", "-i", "10.96.0.0/12,fd00:10::/64", "-x", "fd00::1"],
        &["-k", "eth1", "-x", "10.1.0.0/16", "-i", "10.0.0.0/8"],
    ]
    .iter()
    .map(|f| InterceptConfig::from_flags(&flags(f)).unwrap())
    .collect()
}

/// Turns fresh-namespace restore text into the `iptables-save` form: `-I` hooks first.
fn as_save(restore: &str) -> String {
    let mut out = String::new();
    let mut table: Vec<String> = Vec::new();
    for line in restore.lines() {
        if line == "COMMIT" {
            let decls: Vec<&String> = table.iter().filter(|l| l.starts_with(':')).collect();
            let inserted: Vec<String> = table
                .iter()
                .filter(|l| l.starts_with("-I "))
                .map(|l| {
                    let mut p: Vec<&str> = l.split(' ').collect();
                    p.remove(2);
                    p.join(" ").replacen("-I", "-A", 1)
                })
                .collect();
            for d in decls {
                out.push_str(d);
                out.push('\n');
            }
            for l in inserted
                .iter()
                .chain(table.iter().filter(|l| l.starts_with("-A ")))
            {
                out.push_str(l);
                out.push('\n');
            }
            out.push_str("COMMIT\n");
            table.clear();
        } else if let Some(name) = line.strip_prefix('*') {
            out.push_str(line);
            out.push('\n');
            for c in name.parse::<Table>().unwrap().builtin_chains() {
                table.push(format!(":{c} ACCEPT [0:0]"));
            }
        } else {
            table.push(line.to_string());
        }
    }
    out
}

#[test]
fn restore_text_parses_back_into_the_plan() {
    for cfg in all_configs() {
        let plan = IptablesPlan::new(&cfg).unwrap();
        for fp in plan.families() {
            let text = plan.render_restore(fp.family);
            let state = IptablesState::parse_family(fp.family, &as_save(&text)).unwrap();
            for c in &fp.chains {
                let got: Vec<&Rule> = state
                    .chain(c.table, &Chain::Istio(c.chain))
                    .unwrap()
                    .rules
                    .iter()
                    .map(|r| r.typed().unwrap())
                    .collect();
                assert_eq!(got, c.rules.iter().collect::<Vec<_>>());
            }
            assert!(plan.is_applied(&state), "{}", plan.diff(&state));
            assert_eq!(plan.reconcile_restore(&state), None);
        }
    }
}

#[test]
fn save_parser_reads_kernel_output_and_rejects_garbage() {
    let text = "# Generated by iptables-save v1.8.9 (nf_tables) on Thu Nov 26 20:12:33 2026
*filter
:INPUT ACCEPT [10:600]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:MY_FILTER - [0:0]
[5:300] -A INPUT -m comment --comment \"keep me\" -j MY_FILTER
-A MY_FILTER -s 10.0.0.0/255.0.255.0 -j DROP
COMMIT
";
    let st = IptablesState::parse(text).unwrap();
    let input = st.chain(Table::Filter, &Chain::Input).unwrap();
    assert_eq!(input.policy.as_deref(), Some("ACCEPT"));
    assert_eq!(
        input.rules[0].to_string(),
        "-m comment --comment \"keep me\" -j MY_FILTER"
    );
    let mine = st
        .chain(Table::Filter, &Chain::User("MY_FILTER".into()))
        .unwrap();
    assert!(
        matches!(mine.rules[0], SavedRule::Raw(_)),
        "non-prefix masks are kept verbatim"
    );
    assert_eq!(st.tables_text(&[Table::Filter]).lines().count(), 8);

    for (bad, line) in [
        ("*nat\n-A OUTPUT -j RETURN\nCOMMIT\n", 2),
        ("*nat\n:OUTPUT ACCEPT [0:0]\n", 2),
        ("-A OUTPUT -j RETURN\n", 1),
        ("*bogus\nCOMMIT\n", 1),
        (
            "*nat\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -j \"RETURN\nCOMMIT\n",
            3,
        ),
    ] {
        let e = IptablesState::parse(bad).unwrap_err();
        assert_eq!(e.line, Some(line), "{bad:?}: {e}");
    }
}

fn memory_with_user_rules() -> MemoryNetfilter {
    MemoryNetfilter::new()
        .with_state(
            Family::V4,
            "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:USER_FILTER - [0:0]\n\
             -A INPUT -p tcp -m tcp --dport 2222 -j USER_FILTER\n-A USER_FILTER -j ACCEPT\nCOMMIT\n\
             *nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n\
             :USER_NAT - [0:0]\n-A OUTPUT -d 10.9.9.9/32 -j USER_NAT\n-A USER_NAT -p tcp -j REDIRECT --to-ports 9999\nCOMMIT\n",
        )
        .unwrap()
}

#[test]
fn memory_apply_is_idempotent_and_clean_is_exact() {
    for cfg in all_configs() {
        let nf = memory_with_user_rules();
        let plan = IptablesPlan::new(&cfg).unwrap();
        let before: Vec<String> = [Family::V4, Family::V6]
            .iter()
            .map(|f| nf.state(*f).unwrap().normalized())
            .collect();
        let r = nf.apply(&plan).unwrap();
        assert_eq!(r.transactions, plan.families().count());
        for fp in plan.families() {
            assert!(plan.is_applied(&nf.state(fp.family).unwrap()));
        }
        let after_first = nf.save(Family::V4).unwrap();
        let writes = nf.writes();
        let again = nf.apply(&plan).unwrap();
        assert!(!again.changed());
        assert_eq!(nf.writes(), writes, "no write when the state matches");
        assert_eq!(nf.save(Family::V4).unwrap(), after_first);
        let v4 = nf.state(Family::V4).unwrap();
        assert_eq!(
            v4.chain(Table::Nat, &Chain::User("USER_NAT".into()))
                .unwrap()
                .rules[0]
                .to_string(),
            "-p tcp -j REDIRECT --to-ports 9999"
        );
        nf.clean(&plan).unwrap();
        let after: Vec<String> = [Family::V4, Family::V6]
            .iter()
            .map(|f| nf.state(*f).unwrap().normalized())
            .collect();
        assert_eq!(after, before);
        assert!(!nf.clean(&plan).unwrap().changed());
        for fp in plan.families() {
            for r in &fp.routes {
                assert!(!nf.route_exists(r).unwrap());
            }
        }
    }
}

#[test]
fn memory_apply_replaces_a_different_plan_in_one_transaction() {
    let nf = memory_with_user_rules();
    let old = IptablesPlan::new(
        &InterceptConfig::from_flags(&flags(&["-m", "TPROXY", "-k", "eth1"])).unwrap(),
    )
    .unwrap();
    let new = IptablesPlan::new(
        &InterceptConfig::from_flags(&flags(&["-b", "9080", "-o", "3306"])).unwrap(),
    )
    .unwrap();
    nf.apply(&old).unwrap();
    let state = nf.state(Family::V4).unwrap();
    let diff = new.diff(&state);
    assert!(diff.changes.contains(&RuleChange::StaleChain {
        table: Table::Mangle,
        chain: IstioChain::Divert
    }));
    assert!(diff.changes.contains(&RuleChange::MissingChain {
        table: Table::Nat,
        chain: IstioChain::Inbound
    }));
    let report = nf.apply(&new).unwrap();
    assert_eq!(report.transactions, 1);
    let state = nf.state(Family::V4).unwrap();
    assert!(new.is_applied(&state), "{}", new.diff(&state));
    assert!(state
        .chain(Table::Mangle, &Chain::Istio(IstioChain::Divert))
        .is_none());
    let nat_pre: Vec<String> = state
        .chain(Table::Nat, &Chain::Prerouting)
        .unwrap()
        .rules
        .iter()
        .map(|r| r.to_string())
        .collect();
    assert_eq!(nat_pre, vec!["-p tcp -j ISTIO_INBOUND"]);
    // Old TPROXY routes stay until `clean` with the old plan: a plan only owns its own routes.
    nf.clean(&old).unwrap();
    assert!(!nf
        .route_exists(&old.family(Family::V4).unwrap().routes[0])
        .unwrap());
}

#[test]
fn memory_apply_repairs_duplicate_jumps_without_touching_others() {
    let nf = memory_with_user_rules();
    let plan = IptablesPlan::new(&InterceptConfig::default()).unwrap();
    // A rules file applied twice (the classic init-task rerun) duplicates the jumps.
    nf.restore(
        Family::V4,
        &plan.render_restore(Family::V4),
        RestoreMode::NoFlush,
    )
    .unwrap();
    nf.restore(
        Family::V4,
        &plan.render_restore(Family::V4),
        RestoreMode::NoFlush,
    )
    .unwrap();
    let state = nf.state(Family::V4).unwrap();
    assert_eq!(
        plan.diff(&state)
            .changes
            .iter()
            .filter(|c| matches!(c, RuleChange::HooksDiffer { .. }))
            .count(),
        2
    );
    nf.apply(&plan).unwrap();
    let state = nf.state(Family::V4).unwrap();
    assert!(plan.is_applied(&state));
    let out: Vec<String> = state
        .chain(Table::Nat, &Chain::Output)
        .unwrap()
        .rules
        .iter()
        .map(|r| r.to_string())
        .collect();
    assert_eq!(
        out,
        vec!["-d 10.9.9.9/32 -j USER_NAT", "-p tcp -j ISTIO_OUTPUT"]
    );
}

#[test]
fn memory_failed_apply_leaves_the_previous_state() {
    let nf = memory_with_user_rules();
    let previous = IptablesPlan::new(&InterceptConfig::default()).unwrap();
    nf.apply(&previous).unwrap();
    let before = nf.state(Family::V4).unwrap().normalized();
    // mangle commits first, then the nat block fails on the injected rule.
    let bad = IptablesPlan::new(&InterceptConfig::from_flags(&flags(&["-m", "TPROXY"])).unwrap())
        .unwrap()
        .with_rule(
            Family::V4,
            Table::Nat,
            IstioChain::Output,
            Rule::new(Target::Jump(Chain::User("ISTIO_MISSING".into()))),
        );
    let err = nf.apply(&bad).unwrap_err();
    assert!(matches!(err, IptablesError::Rejected { .. }), "{err}");
    // The mangle table did not exist before: it is left empty, which the kernel treats as
    // absent (and `normalized` leaves out).
    assert_eq!(nf.state(Family::V4).unwrap().normalized(), before);
    assert!(
        !nf.route_exists(&bad.family(Family::V4).unwrap().routes[0])
            .unwrap(),
        "routes added are removed"
    );
    // On a fresh namespace the tables the failed transaction created are emptied again.
    let fresh = MemoryNetfilter::new();
    assert!(fresh.apply(&bad).is_err());
    assert_eq!(fresh.state(Family::V4).unwrap().normalized(), "");
}

#[test]
fn memory_kernel_refuses_what_the_kernel_refuses() {
    let nf = MemoryNetfilter::new();
    let refuse = |text: &str| {
        nf.restore(Family::V4, text, RestoreMode::NoFlush)
            .unwrap_err()
            .to_string()
    };
    assert!(refuse("*nat\n-A ISTIO_OUTPUT -j RETURN\nCOMMIT\n").contains("does not exist"));
    assert!(
        refuse("*nat\n:X - [0:0]\n-A X -j NOPE_TARGET --opt 1\nCOMMIT\n")
            .contains("Couldn't load target")
    );
    assert!(
        refuse("*filter\n:X - [0:0]\n-A X -j REDIRECT --to-ports 1\nCOMMIT\n")
            .contains("only valid in the nat table")
    );
    assert!(
        refuse("*nat\n-A PREROUTING -m owner --uid-owner 1 -j RETURN\nCOMMIT\n")
            .contains("not valid in PREROUTING")
    );
    assert!(refuse("*nat\n-D OUTPUT -j RETURN\nCOMMIT\n").contains("matching rule"));
    nf.restore(
        Family::V4,
        "*nat\n:A - [0:0]\n:B - [0:0]\n-A A -j B\nCOMMIT\n",
        RestoreMode::NoFlush,
    )
    .unwrap();
    assert!(refuse("*nat\n-X B\nCOMMIT\n").contains("referenced"));
    assert!(refuse("*nat\n-X A\nCOMMIT\n").contains("has rules"));
    assert!(refuse("*nat\n-N A\nCOMMIT\n").contains("already exists"));
    assert!(refuse("*nat\n:C - [0:0]\n").contains("missing COMMIT"));
    // Nothing of the refused transactions is visible.
    assert_eq!(
        nf.state(Family::V4).unwrap().normalized(),
        "*nat\n:PREROUTING ACCEPT\n:INPUT ACCEPT\n:OUTPUT ACCEPT\n:POSTROUTING ACCEPT\n:A -\n:B -\n-A A -j B\nCOMMIT\n"
    );
}

#[test]
fn selections_name_the_accepted_forms_not_serde_internals() {
    use super::{CidrSelection, PortSelection};
    let e = serde_json::from_str::<PortSelection>("5")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(r#"invalid type: integer `5`, expected "all", "none" or a list of ports"#),
        "{e}"
    );
    let e = serde_json::from_str::<PortSelection>("[80, 70000]")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("invalid value: integer `70000`, expected u16"),
        "{e}"
    );
    let e = serde_json::from_str::<CidrSelection>("{}")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(r#"invalid type: map, expected "all", "none" or a list of networks"#),
        "{e}"
    );
    assert_eq!(
        serde_json::from_str::<PortSelection>("[80]").unwrap(),
        PortSelection::List(vec![80])
    );
    assert_eq!(
        serde_json::from_str::<PortSelection>(r#""*""#).unwrap(),
        PortSelection::All
    );
    assert_eq!(
        serde_json::from_str::<CidrSelection>(r#""none""#).unwrap(),
        CidrSelection::None
    );
}
