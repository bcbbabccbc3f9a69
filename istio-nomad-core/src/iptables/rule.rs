//! Tables, chains and rules as typed values, rendered to (and parsed from) the argument form
//! `iptables-save` prints.
//!
//! A [`Rule`] keeps its parts in the canonical order the kernel prints them back: source,
//! destination, input and output interface, protocol, then the match modules in order, then the
//! target. Rendering a rule and reading the kernel's output therefore give equal values, so a
//! plan can be compared with a namespace structurally instead of textually.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use super::net::{InterfaceName, IpNet};

/// An iptables table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    /// `filter`.
    Filter,
    /// `mangle`.
    Mangle,
    /// `nat`.
    Nat,
    /// `raw`.
    Raw,
    /// `security`.
    Security,
}

impl Table {
    /// The table's name as iptables spells it.
    pub fn name(self) -> &'static str {
        match self {
            Table::Filter => "filter",
            Table::Mangle => "mangle",
            Table::Nat => "nat",
            Table::Raw => "raw",
            Table::Security => "security",
        }
    }

    /// The built-in chains of this table, in the order `iptables-save` lists them.
    pub fn builtin_chains(self) -> &'static [Chain] {
        use Chain::*;
        match self {
            Table::Filter | Table::Security => &[Input, Forward, Output],
            Table::Mangle => &[Prerouting, Input, Forward, Output, Postrouting],
            Table::Nat => &[Prerouting, Input, Output, Postrouting],
            Table::Raw => &[Prerouting, Output],
        }
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Table {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "filter" => Table::Filter,
            "mangle" => Table::Mangle,
            "nat" => Table::Nat,
            "raw" => Table::Raw,
            "security" => Table::Security,
            _ => return Err(format!("unknown table {s:?}")),
        })
    }
}

/// The chains this library owns. Their names are Istio's, so that rules left by
/// `istio-iptables` are recognised (and replaced or cleaned) as ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IstioChain {
    /// `ISTIO_INBOUND`: decides which inbound TCP is captured.
    Inbound,
    /// `ISTIO_REDIRECT`: REDIRECTs outbound TCP to the proxy port.
    Redirect,
    /// `ISTIO_IN_REDIRECT`: REDIRECTs inbound TCP to the inbound capture port.
    InRedirect,
    /// `ISTIO_OUTPUT`: decides which outbound TCP is captured.
    Output,
    /// `ISTIO_DIVERT` (mangle, TPROXY mode): marks packets of established inbound connections.
    Divert,
    /// `ISTIO_TPROXY` (mangle, TPROXY mode): hands new inbound connections to the proxy.
    Tproxy,
}

impl IstioChain {
    /// Every chain we own, in the order cleanup deletes them (Istio's order).
    pub const ALL: [IstioChain; 6] = [
        IstioChain::Output,
        IstioChain::Inbound,
        IstioChain::Divert,
        IstioChain::Tproxy,
        IstioChain::Redirect,
        IstioChain::InRedirect,
    ];

    /// The chain's name.
    pub fn name(self) -> &'static str {
        match self {
            IstioChain::Inbound => "ISTIO_INBOUND",
            IstioChain::Redirect => "ISTIO_REDIRECT",
            IstioChain::InRedirect => "ISTIO_IN_REDIRECT",
            IstioChain::Output => "ISTIO_OUTPUT",
            IstioChain::Divert => "ISTIO_DIVERT",
            IstioChain::Tproxy => "ISTIO_TPROXY",
        }
    }
}

/// A chain: built-in, ours, or someone else's.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Chain {
    /// `PREROUTING`.
    Prerouting,
    /// `INPUT`.
    Input,
    /// `FORWARD`.
    Forward,
    /// `OUTPUT`.
    Output,
    /// `POSTROUTING`.
    Postrouting,
    /// One of the chains this library owns.
    Istio(IstioChain),
    /// A user-defined chain that is not ours.
    User(String),
}

impl Chain {
    /// Parses a chain name (`OUTPUT`, `ISTIO_OUTPUT`, `MY_CHAIN`). Names must be 1 to 28
    /// printable characters without whitespace and must not start with `-` or `!`.
    pub(crate) fn parse(name: &str) -> Result<Chain, String> {
        Ok(match name {
            "PREROUTING" => Chain::Prerouting,
            "INPUT" => Chain::Input,
            "FORWARD" => Chain::Forward,
            "OUTPUT" => Chain::Output,
            "POSTROUTING" => Chain::Postrouting,
            _ => {
                if let Some(c) = IstioChain::ALL.iter().find(|c| c.name() == name) {
                    return Ok(Chain::Istio(*c));
                }
                if name.is_empty()
                    || name.len() > 28
                    || name.starts_with(['-', '!'])
                    || name
                        .chars()
                        .any(|c| c.is_whitespace() || c.is_control() || c == '"')
                {
                    return Err(format!("{name:?} is not a valid chain name"));
                }
                Chain::User(name.to_string())
            }
        })
    }

    /// The chain's name.
    pub fn name(&self) -> &str {
        match self {
            Chain::Prerouting => "PREROUTING",
            Chain::Input => "INPUT",
            Chain::Forward => "FORWARD",
            Chain::Output => "OUTPUT",
            Chain::Postrouting => "POSTROUTING",
            Chain::Istio(c) => c.name(),
            Chain::User(n) => n,
        }
    }

    /// True for the built-in chains.
    pub fn is_builtin(&self) -> bool {
        !matches!(self, Chain::Istio(_) | Chain::User(_))
    }
}

impl fmt::Display for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A layer-4 protocol (`-p`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// `tcp`.
    Tcp,
    /// `udp`.
    Udp,
    /// Any other protocol, as printed (`icmp`, `sctp`, `47`).
    Other(String),
}

impl Protocol {
    fn parse(s: &str) -> Protocol {
        match s {
            "tcp" => Protocol::Tcp,
            "udp" => Protocol::Udp,
            other => Protocol::Other(other.to_string()),
        }
    }

    /// The protocol's name.
    pub fn name(&self) -> &str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Other(s) => s,
        }
    }
}

/// A value that may be negated with `!`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Negatable<T> {
    /// True for `! value`.
    pub negated: bool,
    /// The value.
    pub value: T,
}

impl<T> Negatable<T> {
    /// Matches `value`.
    pub fn is(value: T) -> Self {
        Negatable {
            negated: false,
            value,
        }
    }

    /// Matches anything but `value`.
    pub fn not(value: T) -> Self {
        Negatable {
            negated: true,
            value,
        }
    }
}

/// A connection-tracking state (`-m conntrack --ctstate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CtState {
    /// `INVALID`.
    Invalid,
    /// `NEW`.
    New,
    /// `RELATED`.
    Related,
    /// `ESTABLISHED`.
    Established,
    /// `UNTRACKED`.
    Untracked,
    /// `SNAT`.
    Snat,
    /// `DNAT`.
    Dnat,
}

impl CtState {
    fn name(self) -> &'static str {
        match self {
            CtState::Invalid => "INVALID",
            CtState::New => "NEW",
            CtState::Related => "RELATED",
            CtState::Established => "ESTABLISHED",
            CtState::Untracked => "UNTRACKED",
            CtState::Snat => "SNAT",
            CtState::Dnat => "DNAT",
        }
    }

    fn parse(s: &str) -> Option<CtState> {
        Some(match s {
            "INVALID" => CtState::Invalid,
            "NEW" => CtState::New,
            "RELATED" => CtState::Related,
            "ESTABLISHED" => CtState::Established,
            "UNTRACKED" => CtState::Untracked,
            "SNAT" => CtState::Snat,
            "DNAT" => CtState::Dnat,
            _ => return None,
        })
    }
}

/// A match module (`-m NAME ...`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Match {
    /// `-m tcp [[!] --sport P] [[!] --dport P]`.
    Tcp {
        /// Source port.
        sport: Option<Negatable<u16>>,
        /// Destination port.
        dport: Option<Negatable<u16>>,
    },
    /// `-m owner [[!] --uid-owner U] [[!] --gid-owner G]` (only valid in OUTPUT/POSTROUTING).
    Owner {
        /// Owning user id.
        uid: Option<Negatable<u32>>,
        /// Owning group id.
        gid: Option<Negatable<u32>>,
    },
    /// `-m conntrack --ctstate S1,S2` (states printed in the kernel's order).
    Conntrack {
        /// The states.
        states: Vec<CtState>,
    },
    /// Any other module, kept as printed.
    Other {
        /// Module name.
        module: String,
        /// Its arguments.
        args: Vec<String>,
    },
}

impl Match {
    fn push_args(&self, out: &mut Vec<String>) {
        fn neg<T: ToString>(out: &mut Vec<String>, flag: &str, v: &Negatable<T>) {
            if v.negated {
                out.push("!".into());
            }
            out.push(flag.into());
            out.push(v.value.to_string());
        }
        match self {
            Match::Tcp { sport, dport } => {
                out.extend(["-m".into(), "tcp".into()]);
                if let Some(p) = sport {
                    neg(out, "--sport", p);
                }
                if let Some(p) = dport {
                    neg(out, "--dport", p);
                }
            }
            Match::Owner { uid, gid } => {
                out.extend(["-m".into(), "owner".into()]);
                if let Some(u) = uid {
                    neg(out, "--uid-owner", u);
                }
                if let Some(g) = gid {
                    neg(out, "--gid-owner", g);
                }
            }
            Match::Conntrack { states } => {
                out.extend(["-m".into(), "conntrack".into(), "--ctstate".into()]);
                let mut s = states.clone();
                s.sort();
                s.dedup();
                out.push(s.iter().map(|s| s.name()).collect::<Vec<_>>().join(","));
            }
            Match::Other { module, args } => {
                out.extend(["-m".into(), module.clone()]);
                out.extend(args.iter().cloned());
            }
        }
    }

    /// Reads a module's arguments; modules or options we do not model are kept as
    /// [`Match::Other`].
    fn from_args(module: &str, args: &[String]) -> Match {
        let typed = match module {
            "tcp" => parse_ports(args).map(|(sport, dport)| Match::Tcp { sport, dport }),
            "owner" => parse_owner(args).map(|(uid, gid)| Match::Owner { uid, gid }),
            "conntrack" => match args {
                [flag, states] if flag == "--ctstate" => {
                    let mut v = Vec::new();
                    let mut ok = true;
                    for s in states.split(',') {
                        match CtState::parse(s) {
                            Some(s) => v.push(s),
                            None => ok = false,
                        }
                    }
                    v.sort();
                    v.dedup();
                    ok.then_some(Match::Conntrack { states: v })
                }
                _ => None,
            },
            _ => None,
        };
        typed.unwrap_or_else(|| Match::Other {
            module: module.to_string(),
            args: args.to_vec(),
        })
    }
}

type PortPair = (Option<Negatable<u16>>, Option<Negatable<u16>>);

fn parse_negated_pairs(args: &[String]) -> Option<Vec<(bool, &str, &str)>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let negated = args[i] == "!";
        if negated {
            i += 1;
        }
        let flag = args.get(i)?;
        let value = args.get(i + 1)?;
        out.push((negated, flag.as_str(), value.as_str()));
        i += 2;
    }
    Some(out)
}

fn parse_ports(args: &[String]) -> Option<PortPair> {
    let (mut sport, mut dport) = (None, None);
    for (negated, flag, value) in parse_negated_pairs(args)? {
        if !value.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let v = Negatable {
            negated,
            value: value.parse().ok()?,
        };
        match flag {
            "--sport" | "--source-port" if sport.is_none() => sport = Some(v),
            "--dport" | "--destination-port" if dport.is_none() => dport = Some(v),
            _ => return None,
        }
    }
    Some((sport, dport))
}

type OwnerPair = (Option<Negatable<u32>>, Option<Negatable<u32>>);

fn parse_owner(args: &[String]) -> Option<OwnerPair> {
    let (mut uid, mut gid) = (None, None);
    for (negated, flag, value) in parse_negated_pairs(args)? {
        if !value.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let v = Negatable {
            negated,
            value: value.parse().ok()?,
        };
        match flag {
            "--uid-owner" if uid.is_none() => uid = Some(v),
            "--gid-owner" if gid.is_none() => gid = Some(v),
            _ => return None,
        }
    }
    Some((uid, gid))
}

/// What a rule does with a matching packet (`-j` / `-g`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// `-j ACCEPT`.
    Accept,
    /// `-j DROP`.
    Drop,
    /// `-j RETURN`.
    Return,
    /// `-j CHAIN`: continue in a user chain.
    Jump(Chain),
    /// `-g CHAIN`: go to a user chain without coming back.
    Goto(Chain),
    /// `-j REDIRECT --to-ports P` (nat).
    Redirect {
        /// The local port.
        to_port: u16,
    },
    /// `-j TPROXY --on-port P --on-ip IP --tproxy-mark M/MASK` (mangle PREROUTING).
    Tproxy {
        /// The local port of the transparent listener.
        on_port: u16,
        /// The local address (`0.0.0.0` or `::` for any).
        on_ip: IpAddr,
        /// Mark set on the packet.
        mark: u32,
        /// Mask of the mark.
        mask: u32,
    },
    /// `-j MARK --set-xmark V/MASK` (what `--set-mark V` is printed back as).
    Mark {
        /// Value.
        value: u32,
        /// Mask.
        mask: u32,
    },
    /// Any other target, kept as printed.
    Other {
        /// Target name.
        name: String,
        /// Its arguments.
        args: Vec<String>,
    },
}

impl Target {
    /// The target's name as written after `-j` / `-g`.
    pub fn name(&self) -> &str {
        match self {
            Target::Accept => "ACCEPT",
            Target::Drop => "DROP",
            Target::Return => "RETURN",
            Target::Jump(c) | Target::Goto(c) => c.name(),
            Target::Redirect { .. } => "REDIRECT",
            Target::Tproxy { .. } => "TPROXY",
            Target::Mark { .. } => "MARK",
            Target::Other { name, .. } => name,
        }
    }

    fn push_args(&self, out: &mut Vec<String>) {
        let flag = if matches!(self, Target::Goto(_)) {
            "-g"
        } else {
            "-j"
        };
        out.extend([flag.to_string(), self.name().to_string()]);
        match self {
            Target::Redirect { to_port } => {
                out.extend(["--to-ports".into(), to_port.to_string()]);
            }
            Target::Tproxy {
                on_port,
                on_ip,
                mark,
                mask,
            } => out.extend([
                "--on-port".into(),
                on_port.to_string(),
                "--on-ip".into(),
                on_ip.to_string(),
                "--tproxy-mark".into(),
                format!("{mark:#x}/{mask:#x}"),
            ]),
            Target::Mark { value, mask } => {
                out.extend(["--set-xmark".into(), format!("{value:#x}/{mask:#x}")]);
            }
            Target::Other { args, .. } => out.extend(args.iter().cloned()),
            _ => {}
        }
    }

    fn from_args(goto: bool, name: &str, args: &[String]) -> Result<Target, String> {
        let other = || Target::Other {
            name: name.to_string(),
            args: args.to_vec(),
        };
        let chain = || Chain::parse(name);
        if goto {
            return Ok(Target::Goto(chain()?));
        }
        Ok(match (name, args) {
            ("ACCEPT", []) => Target::Accept,
            ("DROP", []) => Target::Drop,
            ("RETURN", []) => Target::Return,
            ("REDIRECT", [f, p]) if f == "--to-ports" || f == "--to-port" => match parse_u16(p) {
                Some(to_port) => Target::Redirect { to_port },
                None => other(),
            },
            ("TPROXY", _) => parse_tproxy(args).unwrap_or_else(other),
            ("MARK", [f, v]) if f == "--set-xmark" || f == "--set-mark" => match parse_mark(v) {
                Some((value, mask)) => Target::Mark { value, mask },
                None => other(),
            },
            _ if args.is_empty() && !KNOWN_TARGETS.contains(&name) => Target::Jump(chain()?),
            _ => other(),
        })
    }
}

/// Extension targets that take no chain name; anything else without arguments is a jump.
pub(crate) const KNOWN_TARGETS: &[&str] = &[
    "ACCEPT",
    "DROP",
    "RETURN",
    "REJECT",
    "LOG",
    "REDIRECT",
    "TPROXY",
    "MARK",
    "CONNMARK",
    "DNAT",
    "SNAT",
    "MASQUERADE",
    "NOTRACK",
    "CT",
    "TCPMSS",
    "NFLOG",
    "NFQUEUE",
    "CLASSIFY",
    "DSCP",
    "TOS",
    "TTL",
    "HL",
    "CHECKSUM",
    "TRACE",
    "AUDIT",
    "SECMARK",
    "CONNSECMARK",
];

fn parse_u16(s: &str) -> Option<u16> {
    if s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

fn parse_u32_any(s: &str) -> Option<u32> {
    if let Some(h) = s.strip_prefix("0x") {
        u32::from_str_radix(h, 16).ok()
    } else if s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

/// `V` or `V/MASK`, decimal or `0x` hex; a missing mask means all bits.
fn parse_mark(s: &str) -> Option<(u32, u32)> {
    match s.split_once('/') {
        Some((v, m)) => Some((parse_u32_any(v)?, parse_u32_any(m)?)),
        None => Some((parse_u32_any(s)?, u32::MAX)),
    }
}

fn parse_tproxy(args: &[String]) -> Option<Target> {
    let (mut port, mut ip, mut mark) = (None, None, None);
    for pair in args.chunks(2) {
        let [flag, value] = pair else { return None };
        match flag.as_str() {
            "--on-port" => port = Some(parse_u16(value)?),
            "--on-ip" => ip = Some(value.parse::<IpAddr>().ok()?),
            "--tproxy-mark" => mark = Some(parse_mark(value)?),
            _ => return None,
        }
    }
    let (mark, mask) = mark.unwrap_or((0, 0));
    Some(Target::Tproxy {
        on_port: port?,
        on_ip: ip.unwrap_or(IpAddr::from([0u8, 0, 0, 0])),
        mark,
        mask,
    })
}

/// One rule, in the canonical order `iptables-save` prints.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rule {
    /// `[!] -s NET`.
    pub source: Option<Negatable<IpNet>>,
    /// `[!] -d NET`.
    pub destination: Option<Negatable<IpNet>>,
    /// `[!] -i IFACE`.
    pub in_interface: Option<Negatable<InterfaceName>>,
    /// `[!] -o IFACE`.
    pub out_interface: Option<Negatable<InterfaceName>>,
    /// `[!] -p PROTO`.
    pub protocol: Option<Negatable<Protocol>>,
    /// `-m MODULE ...`, in order.
    pub matches: Vec<Match>,
    /// `-j TARGET ...` (a rule may have none: it only counts packets).
    pub target: Option<Target>,
}

impl Rule {
    /// A rule matching everything, with `target`.
    pub fn new(target: Target) -> Rule {
        Rule {
            source: None,
            destination: None,
            in_interface: None,
            out_interface: None,
            protocol: None,
            matches: Vec::new(),
            target: Some(target),
        }
    }

    /// Adds `-p tcp`.
    #[must_use]
    pub fn tcp(mut self) -> Self {
        self.protocol = Some(Negatable::is(Protocol::Tcp));
        self
    }

    /// Adds `-s NET`.
    #[must_use]
    pub fn source(mut self, net: IpNet) -> Self {
        self.source = Some(Negatable::is(net));
        self
    }

    /// Adds `-d NET` (or `! -d NET` when `negated`).
    #[must_use]
    pub fn destination(mut self, net: IpNet, negated: bool) -> Self {
        self.destination = Some(Negatable {
            negated,
            value: net,
        });
        self
    }

    /// Adds `-i IFACE`.
    #[must_use]
    pub fn in_interface(mut self, name: InterfaceName) -> Self {
        self.in_interface = Some(Negatable::is(name));
        self
    }

    /// Adds `-o IFACE`.
    #[must_use]
    pub fn out_interface(mut self, name: InterfaceName) -> Self {
        self.out_interface = Some(Negatable::is(name));
        self
    }

    /// Adds `-m tcp --dport P` (call [`Rule::tcp`] too).
    #[must_use]
    pub fn dport(mut self, port: u16) -> Self {
        self.matches.push(Match::Tcp {
            sport: None,
            dport: Some(Negatable::is(port)),
        });
        self
    }

    /// Adds `-m owner [!] --uid-owner U`.
    #[must_use]
    pub fn uid_owner(mut self, uid: u32, negated: bool) -> Self {
        self.matches.push(Match::Owner {
            uid: Some(Negatable {
                negated,
                value: uid,
            }),
            gid: None,
        });
        self
    }

    /// Adds `-m owner [!] --gid-owner G`.
    #[must_use]
    pub fn gid_owner(mut self, gid: u32, negated: bool) -> Self {
        self.matches.push(Match::Owner {
            uid: None,
            gid: Some(Negatable {
                negated,
                value: gid,
            }),
        });
        self
    }

    /// Adds `-m conntrack --ctstate ...`.
    #[must_use]
    pub fn ctstate(mut self, states: &[CtState]) -> Self {
        let mut states = states.to_vec();
        states.sort();
        states.dedup();
        self.matches.push(Match::Conntrack { states });
        self
    }

    /// The arguments after `-A CHAIN`, as `iptables-save` prints them.
    pub fn args(&self) -> Vec<String> {
        let mut out = Vec::new();
        fn base<T: fmt::Display>(out: &mut Vec<String>, flag: &str, v: &Option<Negatable<T>>) {
            if let Some(v) = v {
                if v.negated {
                    out.push("!".into());
                }
                out.push(flag.into());
                out.push(v.value.to_string());
            }
        }
        base(&mut out, "-s", &self.source);
        base(&mut out, "-d", &self.destination);
        base(&mut out, "-i", &self.in_interface);
        base(&mut out, "-o", &self.out_interface);
        if let Some(p) = &self.protocol {
            if p.negated {
                out.push("!".into());
            }
            out.extend(["-p".into(), p.value.name().to_string()]);
        }
        for m in &self.matches {
            m.push_args(&mut out);
        }
        if let Some(t) = &self.target {
            t.push_args(&mut out);
        }
        out
    }

    /// The chain this rule jumps or goes to, if any.
    pub fn jump_chain(&self) -> Option<&Chain> {
        match &self.target {
            Some(Target::Jump(c) | Target::Goto(c)) => Some(c),
            _ => None,
        }
    }

    /// Reads a rule from the arguments after `-A CHAIN` (as printed by `iptables-save` or
    /// written in `iptables-restore` input; `--dport` without `-m tcp` is accepted after
    /// `-p tcp`, as iptables loads the module implicitly).
    pub(crate) fn from_args(args: &[String]) -> Result<Rule, String> {
        let mut rule = Rule {
            source: None,
            destination: None,
            in_interface: None,
            out_interface: None,
            protocol: None,
            matches: Vec::new(),
            target: None,
        };
        let mut i = 0;
        let n = args.len();
        while i < n {
            let negated = args[i] == "!";
            if negated {
                i += 1;
            }
            let Some(flag) = args.get(i) else {
                return Err("'!' at the end of the rule".into());
            };
            let value = |i: usize| -> Result<&String, String> {
                args.get(i + 1)
                    .ok_or_else(|| format!("option {flag} needs a value"))
            };
            match flag.as_str() {
                "-s" | "--source" | "--src" | "-d" | "--destination" | "--dst" => {
                    let v = value(i)?;
                    let net: IpNet = v.parse().map_err(|e| format!("{flag} {v}: {e}"))?;
                    let slot = if flag.starts_with("-s") || flag.starts_with("--s") {
                        &mut rule.source
                    } else {
                        &mut rule.destination
                    };
                    if slot.is_some() {
                        return Err(format!("{flag} given twice"));
                    }
                    *slot = Some(Negatable {
                        negated,
                        value: net,
                    });
                    i += 2;
                }
                "-i" | "--in-interface" | "-o" | "--out-interface" => {
                    let v = value(i)?;
                    let name = InterfaceName::pattern(v).map_err(|e| format!("{flag} {v}: {e}"))?;
                    let slot = if flag == "-i" || flag == "--in-interface" {
                        &mut rule.in_interface
                    } else {
                        &mut rule.out_interface
                    };
                    if slot.is_some() {
                        return Err(format!("{flag} given twice"));
                    }
                    *slot = Some(Negatable {
                        negated,
                        value: name,
                    });
                    i += 2;
                }
                "-p" | "--protocol" => {
                    let v = value(i)?;
                    if rule.protocol.is_some() {
                        return Err(format!("{flag} given twice"));
                    }
                    rule.protocol = Some(Negatable {
                        negated,
                        value: Protocol::parse(v),
                    });
                    i += 2;
                }
                "-m" | "--match" => {
                    if negated {
                        return Err("'!' cannot negate -m".into());
                    }
                    let module = value(i)?.clone();
                    let end = module_end(args, i + 2);
                    rule.matches
                        .push(Match::from_args(&module, &args[i + 2..end]));
                    i = end;
                }
                "-j" | "--jump" | "-g" | "--goto" => {
                    if negated {
                        return Err(format!("'!' cannot negate {flag}"));
                    }
                    if rule.target.is_some() {
                        return Err("more than one target".into());
                    }
                    let name = value(i)?.clone();
                    let end = module_end(args, i + 2);
                    let goto = flag == "-g" || flag == "--goto";
                    rule.target = Some(Target::from_args(goto, &name, &args[i + 2..end])?);
                    i = end;
                }
                f if f.starts_with("--") => {
                    // An option of the module the protocol loads implicitly (`-p tcp --dport`).
                    let module = match &rule.protocol {
                        Some(Negatable {
                            negated: false,
                            value: p @ (Protocol::Tcp | Protocol::Udp),
                        }) => p.name().to_string(),
                        _ => return Err(format!("unknown option {f}")),
                    };
                    let start = if negated { i - 1 } else { i };
                    let end = module_end(args, i);
                    rule.matches
                        .push(Match::from_args(&module, &args[start..end]));
                    i = end;
                }
                f => return Err(format!("unknown option {f:?}")),
            }
        }
        Ok(rule)
    }
}

/// Index where the arguments of a module or target end: at the next base option, `-m`, `-j`
/// or `-g` (optionally preceded by `!`).
fn module_end(args: &[String], start: usize) -> usize {
    let is_base = |s: &str| {
        matches!(
            s,
            "-s" | "--source"
                | "-d"
                | "--destination"
                | "-i"
                | "--in-interface"
                | "-o"
                | "--out-interface"
                | "-p"
                | "--protocol"
                | "-m"
                | "--match"
                | "-j"
                | "--jump"
                | "-g"
                | "--goto"
        )
    };
    let mut i = start;
    while i < args.len() {
        if is_base(&args[i]) {
            return i;
        }
        if args[i] == "!" && args.get(i + 1).is_some_and(|s| is_base(s)) {
            return i;
        }
        i += 1;
    }
    args.len()
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&join_restore(&self.args()))
    }
}

/// Joins arguments for `iptables-restore` / `iptables-save` text, double-quoting any argument
/// that contains whitespace or quotes (as `iptables-save` does for comments).
pub fn join_restore(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            if !a.is_empty()
                && !a
                    .chars()
                    .any(|c| c.is_whitespace() || c == '"' || c == '\\')
            {
                a.clone()
            } else {
                let mut s = String::from('"');
                for c in a.chars() {
                    if c == '"' || c == '\\' {
                        s.push('\\');
                    }
                    s.push(c);
                }
                s.push('"');
                s
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Splits one line of `iptables-save` / `iptables-restore` text into arguments (double quotes
/// group, backslash escapes the next character inside quotes).
pub fn split_restore(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_arg = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                in_arg = true;
                loop {
                    match chars.next() {
                        None => return Err("unterminated quote".into()),
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(e) => cur.push(e),
                            None => return Err("unterminated quote".into()),
                        },
                        Some(o) => cur.push(o),
                    }
                }
            }
            c if c.is_whitespace() => {
                if in_arg {
                    out.push(std::mem::take(&mut cur));
                    in_arg = false;
                }
            }
            c => {
                in_arg = true;
                cur.push(c);
            }
        }
    }
    if in_arg {
        out.push(cur);
    }
    Ok(out)
}

/// Quotes one argument for a POSIX shell: plain when it only has safe characters, else in
/// single quotes (a single quote inside becomes `'\''`).
pub fn shell_quote(arg: &str) -> String {
    let safe = !arg.is_empty()
        && arg.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(c, '_' | '-' | '.' | '/' | ':' | ',' | '=' | '+' | '@')
        });
    if safe {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn args(s: &str) -> Vec<String> {
        split_restore(s).unwrap()
    }

    #[test]
    fn rules_round_trip_in_canonical_order() {
        for line in [
            "-p tcp -m tcp --dport 22 -j RETURN",
            "-s 127.0.0.6/32 -o lo -j RETURN",
            "! -d 127.0.0.1/32 -o lo -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT",
            "-o lo -m owner ! --uid-owner 1337 -j RETURN",
            "-p tcp -j REDIRECT --to-ports 15001",
            "! -d 127.0.0.1/32 -p tcp -j TPROXY --on-port 15006 --on-ip 0.0.0.0 --tproxy-mark 0x539/0xffffffff",
            "-j MARK --set-xmark 0x539/0xffffffff",
            "-p tcp -m tcp --dport 80 -m conntrack --ctstate RELATED,ESTABLISHED -j ISTIO_DIVERT",
            "-p tcp -m comment --comment \"a \\\"b\\\" c\" -j ACCEPT",
            "-i eth+ -j REJECT --reject-with icmp-port-unreachable",
            "-p udp -m udp --dport 53 -j MY_CHAIN",
            "-g MY_CHAIN",
            "-m mark --mark 0x1",
        ] {
            let rule = Rule::from_args(&args(line)).unwrap();
            assert_eq!(rule.to_string(), line);
        }
    }

    #[test]
    fn input_order_and_implicit_modules_normalize() {
        let r = Rule::from_args(&args(
            "-o lo ! -d 127.0.0.1 -p tcp --dport 80 -j MARK --set-mark 1337",
        ))
        .unwrap();
        assert_eq!(
            r.to_string(),
            "! -d 127.0.0.1/32 -o lo -p tcp -m tcp --dport 80 -j MARK --set-xmark 0x539/0xffffffff"
        );
        let built = Rule::new(Target::Return).tcp().dport(80);
        assert_eq!(
            Rule::from_args(&args("-p tcp --dport 80 -j RETURN")).unwrap(),
            built
        );
    }

    #[test]
    fn bad_rules_are_errors() {
        assert!(Rule::from_args(&args("-d 10.0.0.0/33 -j RETURN")).is_err());
        assert!(Rule::from_args(&args("-j RETURN -j ACCEPT")).is_err());
        assert!(Rule::from_args(&args("--dport 80 -j RETURN")).is_err());
        assert!(Rule::from_args(&args("-o eth0;reboot -j RETURN")).is_err());
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(shell_quote("ISTIO_OUTPUT"), "ISTIO_OUTPUT");
        assert_eq!(shell_quote("!"), "'!'");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
