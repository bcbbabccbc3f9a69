//! [`InterceptConfig`]: every setting of `istio-iptables`, typed, with Istio's defaults.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::net::{InterfaceName, IpNet};
use super::{Family, IptablesError};
use crate::error::{Error, Format, ParseError, ValidationErrors};

/// Istio's proxy (outbound capture) port, `-p` / `ENVOY_PORT`.
pub const DEFAULT_PROXY_PORT: u16 = 15001;
/// Istio's inbound capture port (1.3 and later), `-z` / `INBOUND_CAPTURE_PORT`.
pub const DEFAULT_INBOUND_CAPTURE_PORT: u16 = 15006;
/// uid (and gid) of the `istio-proxy` user in Istio's images.
pub const DEFAULT_PROXY_UID: u32 = 1337;
/// Istio's TPROXY packet mark, `-t` / `ISTIO_INBOUND_TPROXY_MARK`.
pub const DEFAULT_TPROXY_MARK: u32 = 1337;
/// Istio's TPROXY routing table, `-r` / `ISTIO_INBOUND_TPROXY_ROUTE_TABLE`.
pub const DEFAULT_TPROXY_ROUTE_TABLE: u32 = 133;
/// Largest valid uid/gid (`4294967295` is `(uid_t)-1`, "no id").
pub const MAX_ID: u32 = u32::MAX - 1;
/// The port whose inbound traffic is never captured when all inbound ports are (SSH), as in
/// every version of `istio-iptables`.
pub const SSH_PORT: u16 = 22;

/// How inbound traffic reaches the proxy (`-m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InterceptionMode {
    /// nat `REDIRECT` to the inbound capture port (the proxy sees the original destination
    /// through `SO_ORIGINAL_DST`; the source address is preserved, the destination is not).
    #[default]
    Redirect,
    /// mangle `TPROXY` to the inbound capture port (the destination is preserved; the proxy
    /// listens with `IP_TRANSPARENT`, which needs `CAP_NET_ADMIN`).
    Tproxy,
}

impl fmt::Display for InterceptionMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InterceptionMode::Redirect => "REDIRECT",
            InterceptionMode::Tproxy => "TPROXY",
        })
    }
}

/// Which inbound ports are captured (`-b`: `*`, a list, or empty).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PortSelection {
    /// `*`: every port except SSH (22) and the excluded inbound ports.
    #[default]
    All,
    /// Only these ports.
    List(Vec<u16>),
    /// No inbound capture at all (an empty `-b`).
    None,
}

/// Which outbound destinations are captured (`-i`: `*`, a list, or empty).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CidrSelection {
    /// `*`: every destination except the excluded networks and the loopback address.
    #[default]
    All,
    /// Only these networks.
    List(Vec<IpNet>),
    /// No outbound capture (an empty `-i`).
    None,
}

#[derive(Serialize)]
#[serde(untagged)]
enum SelectionRepr<T> {
    Word(String),
    List(Vec<T>),
}

/// Reads a selection: a word (`"all"`, `"*"`, `"none"`, `""`) or a list of `T`. A wrong element
/// keeps its own message (`invalid value: integer `70000`, expected u16`); anything else is
/// "expected "all", "none" or a list of <what>".
struct SelectionVisitor<T> {
    what: &'static str,
    marker: std::marker::PhantomData<T>,
}

impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for SelectionVisitor<T> {
    type Value = SelectionRepr<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"all\", \"none\" or a list of {}", self.what)
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(SelectionRepr::Word(v.to_owned()))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(x) = seq.next_element::<T>()? {
            out.push(x);
        }
        Ok(SelectionRepr::List(out))
    }
}

fn read_selection<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
    what: &'static str,
) -> Result<SelectionRepr<T>, D::Error> {
    d.deserialize_any(SelectionVisitor {
        what,
        marker: std::marker::PhantomData,
    })
}

fn selection_word(w: &str) -> Option<bool> {
    match w {
        "all" | "*" => Some(true),
        "none" | "" => Some(false),
        _ => None,
    }
}

impl Serialize for PortSelection {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            PortSelection::All => SelectionRepr::<u16>::Word("all".into()).serialize(s),
            PortSelection::None => SelectionRepr::<u16>::Word("none".into()).serialize(s),
            PortSelection::List(v) => SelectionRepr::List(v.clone()).serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for PortSelection {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match read_selection::<D, u16>(d, "ports")? {
            SelectionRepr::List(v) => Ok(PortSelection::List(v)),
            SelectionRepr::Word(w) => match selection_word(&w) {
                Some(true) => Ok(PortSelection::All),
                Some(false) => Ok(PortSelection::None),
                None => Err(serde::de::Error::custom(format!(
                    "expected \"all\", \"none\" or a list of ports, got {w:?}"
                ))),
            },
        }
    }
}

impl Serialize for CidrSelection {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            CidrSelection::All => SelectionRepr::<IpNet>::Word("all".into()).serialize(s),
            CidrSelection::None => SelectionRepr::<IpNet>::Word("none".into()).serialize(s),
            CidrSelection::List(v) => SelectionRepr::List(v.clone()).serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for CidrSelection {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match read_selection::<D, IpNet>(d, "networks")? {
            SelectionRepr::List(v) => Ok(CidrSelection::List(v)),
            SelectionRepr::Word(w) => match selection_word(&w) {
                Some(true) => Ok(CidrSelection::All),
                Some(false) => Ok(CidrSelection::None),
                None => Err(serde::de::Error::custom(format!(
                    "expected \"all\", \"none\" or a list of networks, got {w:?}"
                ))),
            },
        }
    }
}

/// Every setting of Istio's traffic interception (`istio-iptables`), typed.
///
/// | field | flag | env variable | default | Istio behaviour reproduced |
/// |---|---|---|---|---|
/// | `proxy_port` | `-p` | `ENVOY_PORT` | 15001 | outbound TCP is REDIRECTed here (`proxyListenPort`) |
/// | `inbound_capture_port` | `-z` | `INBOUND_CAPTURE_PORT` | 15006 | inbound TCP goes here (1.3+; 1.0 used the `-p` port) |
/// | `proxy_uids` | `-u` | – | `[1337]` | traffic of these uids is never captured (the proxy's own) |
/// | `proxy_gids` | `-g` | – | same as `proxy_uids` | as in 1.0+, `-g` defaults to the `-u` list |
/// | `bypass_root` | `--bypass-root` | – | `false` | **differs**, see below |
/// | `mode` | `-m` | `ISTIO_INBOUND_INTERCEPTION_MODE` | REDIRECT | inbound REDIRECT (nat) or TPROXY (mangle) |
/// | `inbound_ports` | `-b` | `ISTIO_INBOUND_PORTS` | all (`*`) | **differs**, see below |
/// | `exclude_inbound_ports` | `-d` | `ISTIO_LOCAL_EXCLUDE_PORTS`, `ISTIO_INBOUND_EXCLUDE_PORTS` | none | only used with all inbound ports, like Istio; SSH (22) is always excluded then |
/// | `outbound_cidrs` | `-i` | `ISTIO_SERVICE_CIDR` | all (`*`) | **differs**, see below |
/// | `exclude_outbound_cidrs` | `-x` | `ISTIO_SERVICE_EXCLUDE_CIDR` | none | RETURN before the inclusions |
/// | `exclude_outbound_ports` | `-o` | `ISTIO_LOCAL_OUTBOUND_PORTS_EXCLUDE` | none | first rules of `ISTIO_OUTPUT` (1.3+) |
/// | `outbound_interfaces` | `-k` | – | none | inbound traffic on these interfaces is treated as outbound (1.1+ KubeVirt) |
/// | `tproxy_mark` | `-t` | `ISTIO_INBOUND_TPROXY_MARK` | 1337 | mark of diverted packets |
/// | `tproxy_route_table` | `-r` | `ISTIO_INBOUND_TPROXY_ROUTE_TABLE` | 133 | `ip rule fwmark MARK lookup TABLE` |
/// | `ipv6` | `--ipv6` | `ENABLE_INBOUND_IPV6` | `false` | the same rules for ip6tables (1.6 mirrors them) |
///
/// Deliberate differences from `istio-iptables`:
///
/// * **Root.** When `-u` is not given, Istio appends `,0` to the uid list, so every process
///   running as root escapes the mesh, silently. Here root bypasses the proxy only when you
///   say so (`bypass_root(true)`, `--bypass-root`, or `0` in `-u`/`-g`): an application
///   container running as root (common) is captured like any other. Set it when the proxy
///   itself runs as root (Istio runs it as root in TPROXY mode).
/// * **Capture by default.** In the 1.0+ scripts an absent `-b`/`-i` means "capture nothing";
///   the Consul compose demo broke on exactly that (istio/istio#7367). Here an absent setting
///   means all ports / all destinations (what Istio's injector passes, `-b '*' -i '*'`), and
///   an explicitly empty value (`-b ""`, `ISTIO_INBOUND_PORTS=`) means none.
/// * **Strictness.** An unknown `-m` value is an error (Istio treats anything but `TPROXY` as
///   REDIRECT, so a typo silently changes the mode); duplicated list items and IPv6 networks
///   while `ipv6` is off are errors instead of duplicated or ignored rules.
/// * **`ENVOY_USER`** (a user name) is not read: resolving it needs the host's user database,
///   which is not the one of the namespace being configured. Pass `-u`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InterceptConfig {
    /// Port of the proxy's outbound listener (`-p`).
    pub proxy_port: u16,
    /// Port of the proxy's inbound listener (`-z`).
    pub inbound_capture_port: u16,
    /// uids whose traffic is never captured (`-u`).
    pub proxy_uids: Vec<u32>,
    /// gids whose traffic is never captured (`-g`); `None` means the same list as `proxy_uids`.
    pub proxy_gids: Option<Vec<u32>>,
    /// Whether root's (uid and gid 0) outbound traffic bypasses the proxy.
    pub bypass_root: bool,
    /// REDIRECT or TPROXY for inbound traffic (`-m`).
    pub mode: InterceptionMode,
    /// Inbound ports captured (`-b`).
    pub inbound_ports: PortSelection,
    /// Inbound ports never captured when all are (`-d`).
    pub exclude_inbound_ports: Vec<u16>,
    /// Outbound destinations captured (`-i`).
    pub outbound_cidrs: CidrSelection,
    /// Outbound destinations never captured (`-x`).
    pub exclude_outbound_cidrs: Vec<IpNet>,
    /// Outbound destination ports never captured (`-o`).
    pub exclude_outbound_ports: Vec<u16>,
    /// Interfaces whose inbound traffic is treated as outbound (`-k`).
    pub outbound_interfaces: Vec<InterfaceName>,
    /// Packet mark used in TPROXY mode (`-t`).
    pub tproxy_mark: u32,
    /// Routing table used in TPROXY mode (`-r`).
    pub tproxy_route_table: u32,
    /// Whether the rules are also installed for IPv6 (ip6tables).
    pub ipv6: bool,
}

impl Default for InterceptConfig {
    fn default() -> Self {
        InterceptConfig {
            proxy_port: DEFAULT_PROXY_PORT,
            inbound_capture_port: DEFAULT_INBOUND_CAPTURE_PORT,
            proxy_uids: vec![DEFAULT_PROXY_UID],
            proxy_gids: None,
            bypass_root: false,
            mode: InterceptionMode::Redirect,
            inbound_ports: PortSelection::All,
            exclude_inbound_ports: Vec::new(),
            outbound_cidrs: CidrSelection::All,
            exclude_outbound_cidrs: Vec::new(),
            exclude_outbound_ports: Vec::new(),
            outbound_interfaces: Vec::new(),
            tproxy_mark: DEFAULT_TPROXY_MARK,
            tproxy_route_table: DEFAULT_TPROXY_ROUTE_TABLE,
            ipv6: false,
        }
    }
}

impl InterceptConfig {
    /// Istio's defaults (see the table on [`InterceptConfig`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the proxy port (`-p`).
    #[must_use]
    pub fn proxy_port(mut self, port: u16) -> Self {
        self.proxy_port = port;
        self
    }

    /// Sets the inbound capture port (`-z`).
    #[must_use]
    pub fn inbound_capture_port(mut self, port: u16) -> Self {
        self.inbound_capture_port = port;
        self
    }

    /// Sets the uids that bypass the proxy (`-u`).
    #[must_use]
    pub fn proxy_uids(mut self, uids: impl IntoIterator<Item = u32>) -> Self {
        self.proxy_uids = uids.into_iter().collect();
        self
    }

    /// Sets the gids that bypass the proxy (`-g`).
    #[must_use]
    pub fn proxy_gids(mut self, gids: impl IntoIterator<Item = u32>) -> Self {
        self.proxy_gids = Some(gids.into_iter().collect());
        self
    }

    /// Lets root's traffic bypass the proxy (Istio's hidden `,0`, made explicit).
    #[must_use]
    pub fn bypass_root(mut self, yes: bool) -> Self {
        self.bypass_root = yes;
        self
    }

    /// Sets the inbound interception mode (`-m`).
    #[must_use]
    pub fn mode(mut self, mode: InterceptionMode) -> Self {
        self.mode = mode;
        self
    }

    /// Sets the captured inbound ports (`-b`).
    #[must_use]
    pub fn inbound_ports(mut self, ports: PortSelection) -> Self {
        self.inbound_ports = ports;
        self
    }

    /// Sets the excluded inbound ports (`-d`).
    #[must_use]
    pub fn exclude_inbound_ports(mut self, ports: impl IntoIterator<Item = u16>) -> Self {
        self.exclude_inbound_ports = ports.into_iter().collect();
        self
    }

    /// Sets the captured outbound networks (`-i`).
    #[must_use]
    pub fn outbound_cidrs(mut self, cidrs: CidrSelection) -> Self {
        self.outbound_cidrs = cidrs;
        self
    }

    /// Sets the excluded outbound networks (`-x`).
    #[must_use]
    pub fn exclude_outbound_cidrs(mut self, cidrs: impl IntoIterator<Item = IpNet>) -> Self {
        self.exclude_outbound_cidrs = cidrs.into_iter().collect();
        self
    }

    /// Sets the excluded outbound ports (`-o`).
    #[must_use]
    pub fn exclude_outbound_ports(mut self, ports: impl IntoIterator<Item = u16>) -> Self {
        self.exclude_outbound_ports = ports.into_iter().collect();
        self
    }

    /// Sets the interfaces whose inbound traffic is treated as outbound (`-k`).
    #[must_use]
    pub fn outbound_interfaces(mut self, names: impl IntoIterator<Item = InterfaceName>) -> Self {
        self.outbound_interfaces = names.into_iter().collect();
        self
    }

    /// Sets the TPROXY mark (`-t`).
    #[must_use]
    pub fn tproxy_mark(mut self, mark: u32) -> Self {
        self.tproxy_mark = mark;
        self
    }

    /// Sets the TPROXY routing table (`-r`).
    #[must_use]
    pub fn tproxy_route_table(mut self, table: u32) -> Self {
        self.tproxy_route_table = table;
        self
    }

    /// Turns the IPv6 (ip6tables) rules on or off.
    #[must_use]
    pub fn ipv6(mut self, on: bool) -> Self {
        self.ipv6 = on;
        self
    }

    /// Validates and returns the config (the end of a builder chain).
    pub fn build(self) -> crate::Result<Self> {
        self.validate()?;
        Ok(self)
    }

    /// The uids whose traffic bypasses the proxy, in rule order (root appended when
    /// `bypass_root` is set and 0 is not listed).
    pub fn effective_uids(&self) -> Vec<u32> {
        let mut v = self.proxy_uids.clone();
        if self.bypass_root && !v.contains(&0) {
            v.push(0);
        }
        v
    }

    /// The gids whose traffic bypasses the proxy, in rule order.
    pub fn effective_gids(&self) -> Vec<u32> {
        let mut v = self
            .proxy_gids
            .clone()
            .unwrap_or_else(|| self.proxy_uids.clone());
        if self.bypass_root && !v.contains(&0) {
            v.push(0);
        }
        v
    }

    /// The address families the rules are installed for.
    pub fn families(&self) -> Vec<Family> {
        if self.ipv6 {
            vec![Family::V4, Family::V6]
        } else {
            vec![Family::V4]
        }
    }

    /// Checks every setting; all problems are reported at once as
    /// [`Error::Validation`] with paths like `intercept.exclude_inbound_ports[2]`.
    pub fn validate(&self) -> crate::Result<()> {
        let mut errs = ValidationErrors::new();
        let port = |errs: &mut ValidationErrors, path: String, p: u16| {
            if p == 0 {
                errs.add(path, "port must be between 1 and 65535", p);
            }
        };
        port(&mut errs, "intercept.proxy_port".into(), self.proxy_port);
        port(
            &mut errs,
            "intercept.inbound_capture_port".into(),
            self.inbound_capture_port,
        );
        fn ports(
            errs: &mut ValidationErrors,
            name: &str,
            list: &[u16],
            port: &dyn Fn(&mut ValidationErrors, String, u16),
        ) {
            for (i, p) in list.iter().enumerate() {
                port(errs, format!("intercept.{name}[{i}]"), *p);
                if list[..i].contains(p) {
                    errs.add(format!("intercept.{name}[{i}]"), "port listed twice", p);
                }
            }
        }
        match &self.inbound_ports {
            PortSelection::List(l) if l.is_empty() => errs.add(
                "intercept.inbound_ports",
                "empty list; use PortSelection::None to capture no inbound port",
                "[]",
            ),
            PortSelection::List(l) => ports(&mut errs, "inbound_ports", l, &port),
            _ => {}
        }
        ports(
            &mut errs,
            "exclude_inbound_ports",
            &self.exclude_inbound_ports,
            &port,
        );
        ports(
            &mut errs,
            "exclude_outbound_ports",
            &self.exclude_outbound_ports,
            &port,
        );
        for (name, ids) in [
            ("proxy_uids", Some(&self.proxy_uids)),
            ("proxy_gids", self.proxy_gids.as_ref()),
        ] {
            for (i, id) in ids.into_iter().flatten().enumerate() {
                if *id > MAX_ID {
                    errs.add(
                        format!("intercept.{name}[{i}]"),
                        "id must be between 0 and 4294967294",
                        id,
                    );
                }
            }
        }
        if self.effective_uids().is_empty() && self.effective_gids().is_empty() {
            errs.add(
                "intercept.proxy_uids",
                "at least one proxy uid or gid is needed, else the proxy's own traffic is captured again",
                "[]",
            );
        }
        let mut nets = |name: &str, list: &[IpNet]| {
            for (i, n) in list.iter().enumerate() {
                if n.family() == Family::V6 && !self.ipv6 {
                    errs.add(
                        format!("intercept.{name}[{i}]"),
                        "IPv6 network while ipv6 is off",
                        n,
                    );
                }
                if list[..i].contains(n) {
                    errs.add(format!("intercept.{name}[{i}]"), "network listed twice", n);
                }
            }
        };
        if let CidrSelection::List(l) = &self.outbound_cidrs {
            nets("outbound_cidrs", l);
        }
        nets("exclude_outbound_cidrs", &self.exclude_outbound_cidrs);
        if let CidrSelection::List(l) = &self.outbound_cidrs {
            if l.is_empty() {
                errs.add(
                    "intercept.outbound_cidrs",
                    "empty list; use CidrSelection::None to capture no outbound traffic",
                    "[]",
                );
            }
        }
        for (i, n) in self.outbound_interfaces.iter().enumerate() {
            if let Err(e) = InterfaceName::new(n.as_str()) {
                errs.add(format!("intercept.outbound_interfaces[{i}]"), e.0, n);
            }
            if self.outbound_interfaces[..i].contains(n) {
                errs.add(
                    format!("intercept.outbound_interfaces[{i}]"),
                    "interface listed twice",
                    n,
                );
            }
        }
        if self.tproxy_mark == 0 {
            errs.add(
                "intercept.tproxy_mark",
                "mark must not be 0 (0 means unmarked)",
                0,
            );
        }
        if matches!(self.tproxy_route_table, 0 | 253..=255) {
            errs.add(
                "intercept.tproxy_route_table",
                "table 0, 253 (default), 254 (main) and 255 (local) are reserved",
                self.tproxy_route_table,
            );
        }
        errs.into_result()
    }

    /// Reads istio-iptables style flags, starting from the defaults. See
    /// [`InterceptConfig::with_flags`].
    pub fn from_flags(flags: &[String]) -> crate::Result<Self> {
        Self::default().with_flags(flags)
    }

    /// Applies istio-iptables style flags on top of this config (flags override env files,
    /// as in Istio), then validates.
    ///
    /// Flags: `-p PORT`, `-z PORT`, `-u UIDS`, `-g GIDS`, `-m REDIRECT|TPROXY`,
    /// `-b '*'|PORTS|''`, `-d PORTS`, `-i '*'|CIDRS|''`, `-x CIDRS`, `-o PORTS`, `-k IFACES`,
    /// `-t MARK`, `-r TABLE`, and our own `--ipv6` and `--bypass-root`. Lists are
    /// comma-separated; spaces around items are ignored, an empty item (`80,,90`) is an error.
    /// Each flag may appear once.
    pub fn with_flags(mut self, flags: &[String]) -> crate::Result<Self> {
        let mut seen: Vec<&str> = Vec::new();
        let mut i = 0;
        while i < flags.len() {
            let flag = flags[i].as_str();
            if seen.contains(&flag) {
                return Err(invalid(flag, flag, "flag given more than once"));
            }
            seen.push(flag);
            match flag {
                "--ipv6" => {
                    self.ipv6 = true;
                    i += 1;
                    continue;
                }
                "--bypass-root" => {
                    self.bypass_root = true;
                    i += 1;
                    continue;
                }
                _ => {}
            }
            let known = [
                "-p", "-z", "-u", "-g", "-m", "-b", "-d", "-i", "-x", "-o", "-k", "-t", "-r",
            ];
            if !known.contains(&flag) {
                return Err(invalid(flag, flag, "unknown flag"));
            }
            let Some(value) = flags.get(i + 1) else {
                return Err(invalid(flag, "", "flag needs a value"));
            };
            self.set(flag, value)?;
            i += 2;
        }
        self.validate()?;
        Ok(self)
    }

    /// Sets one setting from its flag (`-p`) or variable name, as text.
    fn set(&mut self, setting: &str, value: &str) -> crate::Result<()> {
        let key = match setting {
            "ENVOY_PORT" => "-p",
            "INBOUND_CAPTURE_PORT" => "-z",
            "ISTIO_INBOUND_INTERCEPTION_MODE" => "-m",
            "ISTIO_INBOUND_PORTS" => "-b",
            "ISTIO_LOCAL_EXCLUDE_PORTS" | "ISTIO_INBOUND_EXCLUDE_PORTS" => "-d",
            "ISTIO_SERVICE_CIDR" => "-i",
            "ISTIO_SERVICE_EXCLUDE_CIDR" => "-x",
            "ISTIO_LOCAL_OUTBOUND_PORTS_EXCLUDE" => "-o",
            "ISTIO_INBOUND_TPROXY_MARK" => "-t",
            "ISTIO_INBOUND_TPROXY_ROUTE_TABLE" => "-r",
            other => other,
        };
        match key {
            "-p" => self.proxy_port = parse_port(setting, value.trim())?,
            "-z" => self.inbound_capture_port = parse_port(setting, value.trim())?,
            "-u" => self.proxy_uids = parse_list(setting, value, parse_id)?,
            "-g" => self.proxy_gids = Some(parse_list(setting, value, parse_id)?),
            "-m" => {
                self.mode = match value.trim() {
                    "REDIRECT" => InterceptionMode::Redirect,
                    "TPROXY" => InterceptionMode::Tproxy,
                    "" if setting.starts_with("ISTIO") => InterceptionMode::Redirect,
                    _ => return Err(invalid(setting, value, "mode must be REDIRECT or TPROXY")),
                }
            }
            "-b" => {
                self.inbound_ports = match value.trim() {
                    "*" => PortSelection::All,
                    "" => PortSelection::None,
                    _ => PortSelection::List(parse_list(setting, value, parse_port)?),
                }
            }
            "-d" => {
                let ports = parse_list(setting, value, parse_port)?;
                if setting.starts_with("ISTIO") {
                    // Both variable names are read; their ports are merged.
                    for p in ports {
                        if !self.exclude_inbound_ports.contains(&p) {
                            self.exclude_inbound_ports.push(p);
                        }
                    }
                } else {
                    self.exclude_inbound_ports = ports;
                }
            }
            "-i" => {
                self.outbound_cidrs = match value.trim() {
                    "*" => CidrSelection::All,
                    "" => CidrSelection::None,
                    _ => CidrSelection::List(parse_list(setting, value, parse_net)?),
                }
            }
            "-x" => self.exclude_outbound_cidrs = parse_list(setting, value, parse_net)?,
            "-o" => self.exclude_outbound_ports = parse_list(setting, value, parse_port)?,
            "-k" => self.outbound_interfaces = parse_list(setting, value, parse_iface)?,
            "-t" => self.tproxy_mark = parse_u32(setting, value.trim())?,
            "-r" => self.tproxy_route_table = parse_u32(setting, value.trim())?,
            "ENABLE_INBOUND_IPV6" => {
                self.ipv6 = match value.trim() {
                    "1" | "true" | "TRUE" | "True" | "yes" => true,
                    "" | "0" | "false" | "FALSE" | "False" | "no" => false,
                    _ => return Err(invalid(setting, value, "expected true or false")),
                }
            }
            _ => return Err(invalid(setting, value, "unknown setting")),
        }
        Ok(())
    }

    /// The variables read from `sidecar.env` / `cluster.env`; others are ignored.
    pub const ENV_VARIABLES: [&'static str; 12] = [
        "ENVOY_PORT",
        "INBOUND_CAPTURE_PORT",
        "ISTIO_INBOUND_INTERCEPTION_MODE",
        "ISTIO_INBOUND_PORTS",
        "ISTIO_LOCAL_EXCLUDE_PORTS",
        "ISTIO_INBOUND_EXCLUDE_PORTS",
        "ISTIO_SERVICE_CIDR",
        "ISTIO_SERVICE_EXCLUDE_CIDR",
        "ISTIO_LOCAL_OUTBOUND_PORTS_EXCLUDE",
        "ISTIO_INBOUND_TPROXY_MARK",
        "ISTIO_INBOUND_TPROXY_ROUTE_TABLE",
        "ENABLE_INBOUND_IPV6",
    ];

    /// Reads the `ISTIO_*` variables (see [`InterceptConfig::ENV_VARIABLES`]) from a map of
    /// environment variables, starting from the defaults. A variable that is absent keeps the
    /// default; one that is present but empty means "none" for `ISTIO_INBOUND_PORTS` and
    /// `ISTIO_SERVICE_CIDR` (as in Istio) and "no entries" for the exclusion lists.
    pub fn from_env_map<K, V>(vars: impl IntoIterator<Item = (K, V)>) -> crate::Result<Self>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let map: BTreeMap<String, String> = vars
            .into_iter()
            .map(|(k, v)| (k.as_ref().to_string(), v.as_ref().to_string()))
            .collect();
        let mut cfg = Self::default();
        for name in Self::ENV_VARIABLES {
            if let Some(v) = map.get(name) {
                cfg.set(name, v)?;
            }
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// Reads `KEY=VALUE` env files in order (a later file overrides an earlier one, as when a
    /// shell sources them one after the other: Istio's script reads `cluster.env`, then
    /// `sidecar.env`).
    pub fn from_env_files(paths: &[&str]) -> crate::Result<Self> {
        let mut vars = BTreeMap::new();
        for p in paths {
            let text = std::fs::read_to_string(p).map_err(|source| Error::Io {
                op: "read",
                path: Path::new(p).to_path_buf(),
                source,
            })?;
            for (k, v) in parse_env_text(&text).map_err(|e| e.at(p.to_string()))? {
                vars.insert(k, v);
            }
        }
        Self::from_env_map(vars)
    }
}

fn invalid(setting: &str, value: &str, reason: impl Into<String>) -> Error {
    Error::Iptables(IptablesError::InvalidSetting {
        setting: setting.to_string(),
        value: value.to_string(),
        reason: reason.into(),
    })
}

fn digits(setting: &str, v: &str, what: &str) -> crate::Result<u64> {
    if v.is_empty() || v.len() > 12 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(
            setting,
            v,
            format!("{what} must be a decimal number"),
        ));
    }
    v.parse()
        .map_err(|_| invalid(setting, v, format!("{what} must be a decimal number")))
}

fn parse_port(setting: &str, v: &str) -> crate::Result<u16> {
    let n = digits(setting, v, "port")?;
    if !(1..=65535).contains(&n) {
        return Err(invalid(setting, v, "port must be between 1 and 65535"));
    }
    Ok(n as u16)
}

fn parse_id(setting: &str, v: &str) -> crate::Result<u32> {
    let n = digits(setting, v, "id")?;
    if n > u64::from(MAX_ID) {
        return Err(invalid(setting, v, "id must be between 0 and 4294967294"));
    }
    Ok(n as u32)
}

fn parse_u32(setting: &str, v: &str) -> crate::Result<u32> {
    let n = if let Some(h) = v.strip_prefix("0x") {
        if h.is_empty() || h.len() > 8 {
            return Err(invalid(setting, v, "must be a 32-bit number"));
        }
        u64::from_str_radix(h, 16).map_err(|_| invalid(setting, v, "must be a 32-bit number"))?
    } else {
        digits(setting, v, "value")?
    };
    u32::try_from(n).map_err(|_| invalid(setting, v, "must be a 32-bit number"))
}

fn parse_net(setting: &str, v: &str) -> crate::Result<IpNet> {
    v.parse()
        .map_err(|e: super::net::ValueError| invalid(setting, v, e.0))
}

fn parse_iface(setting: &str, v: &str) -> crate::Result<InterfaceName> {
    InterfaceName::new(v).map_err(|e| invalid(setting, v, e.0))
}

/// Splits a comma list; items are trimmed, an empty item is an error naming its position.
fn parse_list<T>(
    setting: &str,
    value: &str,
    item: fn(&str, &str) -> crate::Result<T>,
) -> crate::Result<Vec<T>> {
    if value.trim().is_empty() {
        return Ok(Vec::new());
    }
    value
        .split(',')
        .enumerate()
        .map(|(i, raw)| {
            let v = raw.trim();
            if v.is_empty() {
                return Err(invalid(
                    setting,
                    value,
                    format!("item {} of the list is empty", i + 1),
                ));
            }
            item(setting, v).map_err(|e| match e {
                Error::Iptables(IptablesError::InvalidSetting {
                    setting,
                    value: item_value,
                    reason,
                }) => invalid(&setting, &item_value, format!("item {}: {reason}", i + 1)),
                other => other,
            })
        })
        .collect()
}

/// Parses `KEY=VALUE` lines of an env file (`sidecar.env`, `cluster.env`): blank lines and
/// `#` comments are skipped, `export ` is allowed, values may be single- or double-quoted.
/// Variable expansion (`$X`) is refused rather than silently kept literally.
pub fn parse_env_text(text: &str) -> Result<Vec<(String, String)>, ParseError> {
    let mut out = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let err = |m: &str| ParseError::new(Format::Env, m).line(n + 1);
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line
            .strip_prefix("export ")
            .map(str::trim_start)
            .unwrap_or(line);
        let Some((key, rest)) = line.split_once('=') else {
            return Err(err("expected KEY=VALUE"));
        };
        let valid_key = !key.is_empty()
            && !key.starts_with(|c: char| c.is_ascii_digit())
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_key {
            return Err(err(&format!("{key:?} is not a variable name")));
        }
        let value = if let Some(r) = rest.strip_prefix('\'') {
            let (v, tail) = r
                .split_once('\'')
                .ok_or_else(|| err("unterminated single quote"))?;
            check_tail(tail).map_err(|m| err(&m))?;
            v.to_string()
        } else if let Some(r) = rest.strip_prefix('"') {
            let mut v = String::new();
            let mut chars = r.chars();
            loop {
                match chars.next() {
                    None => return Err(err("unterminated double quote")),
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some(c @ ('"' | '\\' | '$' | '`')) => v.push(c),
                        Some(c) => {
                            v.push('\\');
                            v.push(c);
                        }
                        None => return Err(err("unterminated double quote")),
                    },
                    Some('$' | '`') => return Err(err("variable expansion is not supported")),
                    Some(c) => v.push(c),
                }
            }
            check_tail(chars.as_str()).map_err(|m| err(&m))?;
            v
        } else {
            let v = match rest.find(" #") {
                Some(i) => &rest[..i],
                None => rest,
            }
            .trim();
            if v.contains(['$', '`', '"', '\'', ';', '|', '&']) {
                return Err(err("unquoted value with shell syntax is not supported"));
            }
            if v.contains(char::is_whitespace) {
                return Err(err("unquoted value with spaces"));
            }
            v.to_string()
        };
        out.push((key.to_string(), value));
    }
    Ok(out)
}

fn check_tail(tail: &str) -> Result<(), String> {
    let t = tail.trim();
    if t.is_empty() || t.starts_with('#') {
        Ok(())
    } else {
        Err(format!("unexpected text after the closing quote: {t:?}"))
    }
}
