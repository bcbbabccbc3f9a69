//! Small typed values used in rules: IP networks and interface names.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Family;

/// Why a network or interface value was refused. The caller adds the setting name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueError(pub String);

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ValueError {}

/// Parses the prefix length after `/`: ASCII digits only, no sign, no spaces.
fn parse_prefix(text: &str, max: u8) -> Result<u8, ValueError> {
    if text.is_empty() || text.len() > 3 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ValueError(format!(
            "prefix length {text:?} is not a number"
        )));
    }
    let n: u8 = text
        .parse()
        .map_err(|_| ValueError(format!("prefix length {text:?} is not a number")))?;
    if n > max {
        return Err(ValueError(format!(
            "prefix length {n} is larger than {max}"
        )));
    }
    Ok(n)
}

/// An IPv4 network, `a.b.c.d/n`, with the host bits cleared (as the kernel prints it back:
/// `10.1.2.3/8` is stored and shown as `10.0.0.0/8`; a bare address means `/32`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ipv4Net {
    addr: Ipv4Addr,
    prefix: u8,
}

impl Ipv4Net {
    /// The network containing `addr` with `prefix` bits (host bits are cleared).
    /// Fails when `prefix` is larger than 32.
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Result<Self, ValueError> {
        if prefix > 32 {
            return Err(ValueError(format!(
                "prefix length {prefix} is larger than 32"
            )));
        }
        let mask = if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(prefix))
        };
        Ok(Ipv4Net {
            addr: Ipv4Addr::from(u32::from(addr) & mask),
            prefix,
        })
    }

    /// A single host (`/32`).
    pub fn host(addr: Ipv4Addr) -> Self {
        Ipv4Net { addr, prefix: 32 }
    }

    /// The network address.
    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }
}

impl FromStr for Ipv4Net {
    type Err = ValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: Ipv4Addr = a
            .parse()
            .map_err(|_| ValueError(format!("{a:?} is not an IPv4 address")))?;
        let prefix = match p {
            Some(p) => parse_prefix(p, 32)?,
            None => 32,
        };
        Ipv4Net::new(addr, prefix)
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// An IPv6 network, `addr/n`, with the host bits cleared (a bare address means `/128`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ipv6Net {
    addr: Ipv6Addr,
    prefix: u8,
}

impl Ipv6Net {
    /// The network containing `addr` with `prefix` bits (host bits are cleared).
    /// Fails when `prefix` is larger than 128.
    pub fn new(addr: Ipv6Addr, prefix: u8) -> Result<Self, ValueError> {
        if prefix > 128 {
            return Err(ValueError(format!(
                "prefix length {prefix} is larger than 128"
            )));
        }
        let mask = if prefix == 0 {
            0
        } else {
            u128::MAX << (128 - u32::from(prefix))
        };
        Ok(Ipv6Net {
            addr: Ipv6Addr::from(u128::from(addr) & mask),
            prefix,
        })
    }

    /// A single host (`/128`).
    pub fn host(addr: Ipv6Addr) -> Self {
        Ipv6Net { addr, prefix: 128 }
    }

    /// The network address.
    pub fn addr(&self) -> Ipv6Addr {
        self.addr
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }
}

impl FromStr for Ipv6Net {
    type Err = ValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: Ipv6Addr = a
            .parse()
            .map_err(|_| ValueError(format!("{a:?} is not an IPv6 address")))?;
        let prefix = match p {
            Some(p) => parse_prefix(p, 128)?,
            None => 128,
        };
        Ipv6Net::new(addr, prefix)
    }
}

impl fmt::Display for Ipv6Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// An IPv4 or IPv6 network, parsed strictly with `std::net` (`1.2.3` and `10.0.0.0/33` are
/// refused) and printed the way `iptables-save` prints it back (`127.0.0.1/32`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IpNet {
    /// An IPv4 network.
    V4(Ipv4Net),
    /// An IPv6 network.
    V6(Ipv6Net),
}

impl IpNet {
    /// The address family of this network.
    pub fn family(&self) -> Family {
        match self {
            IpNet::V4(_) => Family::V4,
            IpNet::V6(_) => Family::V6,
        }
    }

    /// A single host.
    pub fn host(addr: IpAddr) -> Self {
        match addr {
            IpAddr::V4(a) => IpNet::V4(Ipv4Net::host(a)),
            IpAddr::V6(a) => IpNet::V6(Ipv6Net::host(a)),
        }
    }
}

impl FromStr for IpNet {
    type Err = ValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.contains(':') {
            s.parse().map(IpNet::V6)
        } else {
            s.parse().map(IpNet::V4)
        }
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IpNet::V4(n) => n.fmt(f),
            IpNet::V6(n) => n.fmt(f),
        }
    }
}

impl Serialize for IpNet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for IpNet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Longest interface name Linux accepts (`IFNAMSIZ` minus the terminating NUL).
pub const MAX_INTERFACE_NAME: usize = 15;

/// A network interface name: 1 to 15 characters from `[A-Za-z0-9_.-]`, so that it can never
/// carry shell or iptables syntax (`eth0;reboot` is refused). In rules read back from the
/// kernel a trailing `+` (iptables' prefix wildcard) is also accepted.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InterfaceName(String);

impl InterfaceName {
    /// Parses a plain interface name.
    pub fn new(name: &str) -> Result<Self, ValueError> {
        Self::check(name, false)
    }

    /// The loopback interface, `lo`.
    pub fn loopback() -> Self {
        InterfaceName("lo".to_string())
    }

    /// Parses an interface match as iptables prints it (a trailing `+` matches a prefix).
    pub fn pattern(name: &str) -> Result<Self, ValueError> {
        Self::check(name, true)
    }

    fn check(name: &str, allow_plus: bool) -> Result<Self, ValueError> {
        let body = match name.strip_suffix('+') {
            Some(b) if allow_plus => b,
            _ => name,
        };
        if name.is_empty() {
            return Err(ValueError("interface name is empty".into()));
        }
        if name.len() > MAX_INTERFACE_NAME {
            return Err(ValueError(format!(
                "interface name is longer than {MAX_INTERFACE_NAME} characters"
            )));
        }
        if name == "." || name == ".." {
            return Err(ValueError(format!(
                "{name:?} is not a valid interface name"
            )));
        }
        if let Some(c) = body
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
        {
            return Err(ValueError(format!(
                "interface names may only contain letters, digits, '_', '.' and '-' (found {c:?})"
            )));
        }
        Ok(InterfaceName(name.to_string()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InterfaceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for InterfaceName {
    type Err = ValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        InterfaceName::new(s)
    }
}

impl Serialize for InterfaceName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for InterfaceName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        InterfaceName::new(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn networks_parse_strictly_and_normalize() {
        assert_eq!(
            "10.1.2.3/8".parse::<IpNet>().unwrap().to_string(),
            "10.0.0.0/8"
        );
        assert_eq!(
            "127.0.0.1".parse::<IpNet>().unwrap().to_string(),
            "127.0.0.1/32"
        );
        assert_eq!(
            "0.0.0.0/0".parse::<IpNet>().unwrap().to_string(),
            "0.0.0.0/0"
        );
        assert_eq!("::1".parse::<IpNet>().unwrap().to_string(), "::1/128");
        assert_eq!(
            "fd00::1:2/64".parse::<IpNet>().unwrap().to_string(),
            "fd00::/64"
        );
        for bad in [
            "10.0.0.0/33",
            "1.2.3",
            "1.2.3.4/",
            "1.2.3.4/-1",
            "1.2.3.4/+8",
            "::/129",
            "",
            "a/8",
        ] {
            assert!(bad.parse::<IpNet>().is_err(), "{bad} accepted");
        }
        assert_eq!(
            "10.0.0.0/33".parse::<IpNet>().unwrap_err().0,
            "prefix length 33 is larger than 32"
        );
    }

    #[test]
    fn interface_names() {
        assert!(InterfaceName::new("eth0").is_ok());
        assert!(InterfaceName::new("veth-a.1_x").is_ok());
        assert!(InterfaceName::new("eth0;reboot").is_err());
        assert!(InterfaceName::new("").is_err());
        assert!(InterfaceName::new("abcdefghijklmnop").is_err());
        assert!(InterfaceName::new("eth+").is_err());
        assert!(InterfaceName::pattern("eth+").is_ok());
        assert!(InterfaceName::pattern("e$h+").is_err());
    }
}
