//! CIDR functions: go-cty-funcs `cidr/host.go`, `cidr/netmask.go`, `cidr/subnet.go`,
//! `cidr/subnets.go` over apparentlymart/go-cidr (`cidr.go`: `HostBig`, `SubnetBig`,
//! `PreviousSubnet`, `NextSubnet`) and Go's `net.ParseCIDR`. Addresses are 32- or 128-bit
//! integers; IPv6 text follows RFC 5952 as Go's `net.IP.String` does (an IPv4-mapped
//! address prints as dotted IPv4, as in Go).

use std::net::{Ipv4Addr, Ipv6Addr};

use super::value::{Ty, Val};
use super::{int_arg, s, Ctx, Fail, Res};

/// A network: its (masked) address, prefix length and address size in bits (32 or 128).
#[derive(Clone, Copy)]
struct Net {
    ip: u128,
    prefix: u32,
    bits: u32,
}

fn mask(prefix: u32, bits: u32) -> u128 {
    let all = if bits == 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    };
    if prefix == 0 {
        0
    } else {
        (all >> (bits - prefix)) << (bits - prefix) & all
    }
}

fn host_mask(prefix: u32, bits: u32) -> u128 {
    let all = if bits == 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    };
    all & !mask(prefix, bits)
}

/// Go's `net.ParseCIDR`: the address with its host bits cleared.
fn parse_cidr(text: &str) -> Result<Net, String> {
    let bad = || format!("invalid CIDR expression: invalid CIDR address: {text}");
    let (addr, len) = text.split_once('/').ok_or_else(bad)?;
    if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) || len.len() > 3 {
        return Err(bad());
    }
    let prefix: u32 = len.parse().map_err(|_| bad())?;
    let (ip, bits) = if addr.contains(':') {
        let a: Ipv6Addr = addr.parse().map_err(|_| bad())?;
        (u128::from(a), 128)
    } else {
        let a: Ipv4Addr = addr.parse().map_err(|_| bad())?;
        (u128::from(u32::from(a)), 32)
    };
    if prefix > bits {
        return Err(bad());
    }
    Ok(Net {
        ip: ip & mask(prefix, bits),
        prefix,
        bits,
    })
}

fn ip_text(ip: u128, bits: u32) -> String {
    if bits == 32 {
        return Ipv4Addr::from(u32::try_from(ip).unwrap_or(0)).to_string();
    }
    let a = Ipv6Addr::from(ip);
    match a.to_ipv4_mapped() {
        Some(v4) => v4.to_string(),
        None => a.to_string(),
    }
}

fn net_text(n: Net) -> String {
    format!("{}/{}", ip_text(n.ip, n.bits), n.prefix)
}

pub(super) fn host(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    let num = int_arg(&args[1], 1)?;
    let net = parse_cidr(s(&args[0])).map_err(Fail::Msg)?;
    let host_len = net.bits - net.prefix;
    let max = if host_len == 128 {
        u128::MAX
    } else {
        (1u128 << host_len) - 1
    };
    let (offset, shown) = if num < 0 {
        let back = u128::from(num.unsigned_abs()) - 1;
        if back > max {
            return Err(Fail::msg(format!(
                "prefix of {} does not accommodate a host numbered {num}",
                net.prefix
            )));
        }
        (max - back, num)
    } else {
        (u128::from(num.unsigned_abs()), num)
    };
    if offset > max {
        return Err(Fail::msg(format!(
            "prefix of {} does not accommodate a host numbered {shown}",
            net.prefix
        )));
    }
    // go-cidr treats an IPv4-mapped IPv6 network as 32 bits wide and shifts the host number
    // past the IPv4 part (`insertNumIntoIP` with 32 on a 16-byte address).
    if net.bits == 128 && Ipv6Addr::from(net.ip).to_ipv4_mapped().is_some() {
        return Ok(Val::str(ip_text(net.ip | (offset << 96), 128)));
    }
    Ok(Val::str(ip_text(net.ip | offset, net.bits)))
}

pub(super) fn netmask(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    let net = parse_cidr(s(&args[0])).map_err(Fail::Msg)?;
    let m = mask(net.prefix, net.bits);
    if net.bits == 32 {
        return Ok(Val::str(ip_text(m, 32)));
    }
    // Go prints a 16-byte mask as an IPv6 address (a mapped-looking one as IPv4).
    Ok(Val::str(ip_text(m, 128)))
}

pub(super) fn subnet(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    let newbits = int_arg(&args[1], 1)?;
    let netnum = int_arg(&args[2], 2)?;
    let net = parse_cidr(s(&args[0])).map_err(Fail::Msg)?;
    if newbits > 32 {
        return Err(Fail::msg("may not extend prefix by more than 32 bits"));
    }
    let new_prefix = i64::from(net.prefix) + newbits;
    if new_prefix > i64::from(net.bits) {
        return Err(Fail::msg(format!(
            "insufficient address space to extend prefix of {} by {newbits}",
            net.prefix
        )));
    }
    // go-cidr lets a negative extension shorten the prefix (and then accepts any number).
    let new_prefix = u32::try_from(new_prefix)
        .map_err(|_| Fail::Arg(1, format!("a prefix of {new_prefix} bits is not possible")))?;
    let max_net = match u32::try_from(newbits) {
        Ok(b) => (1u64 << b) - 1,
        Err(_) => u64::MAX,
    };
    if netnum < 0 || netnum.unsigned_abs() > max_net {
        return Err(Fail::msg(format!(
            "prefix extension of {newbits} does not accommodate a subnet numbered {netnum}"
        )));
    }
    let shift = net.bits - new_prefix;
    let num = u128::from(netnum.unsigned_abs());
    let all = if net.bits == 128 {
        u128::MAX
    } else {
        (1u128 << 32) - 1
    };
    let ip = (net.ip | num.checked_shl(shift).unwrap_or(0)) & all;
    Ok(Val::str(net_text(Net {
        ip,
        prefix: new_prefix,
        bits: net.bits,
    })))
}

pub(super) fn subnets(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    let base = parse_cidr(s(&args[0])).map_err(|m| Fail::Arg(0, m))?;
    let lengths = &args[1..];
    if lengths.is_empty() {
        return Ok(Val::List(Ty::Str, Vec::new()));
    }
    let wrap = |v: u128| -> u128 {
        if base.bits == 128 {
            v
        } else {
            v & ((1u128 << 32) - 1)
        }
    };
    let first = int_arg(&lengths[0], 1)?;
    let first_len = first.saturating_add(i64::from(base.prefix));
    // PreviousSubnet: the subnet of the first length just before the base address.
    let first_len_u = u32::try_from(first_len.clamp(0, i64::from(base.bits))).unwrap_or(0);
    let mut current = Net {
        ip: wrap(base.ip.wrapping_sub(1)) & mask(first_len_u, base.bits),
        prefix: first_len_u,
        bits: base.bits,
    };
    let mut out = Vec::with_capacity(lengths.len());
    for (i, l) in lengths.iter().enumerate() {
        let length = int_arg(l, i + 1)?;
        if length < 1 {
            return Err(Fail::Arg(
                i + 1,
                "must extend prefix by at least one bit".into(),
            ));
        }
        if length > 32 {
            return Err(Fail::Arg(
                i + 1,
                "may not extend prefix by more than 32 bits".into(),
            ));
        }
        let length = u32::try_from(length).unwrap_or(1) + base.prefix;
        if length > base.bits {
            let proto = if base.bits == 32 { "IPv4" } else { "IPv6" };
            return Err(Fail::Arg(
                i + 1,
                format!("would extend prefix to {length} bits, which is too long for an {proto} address"),
            ));
        }
        // NextSubnet.
        let current_last = current.ip | host_mask(current.prefix, base.bits);
        let m = mask(length, base.bits);
        let sub_last = (current_last & m) | host_mask(length, base.bits);
        let next_ip = wrap(sub_last.wrapping_add(1));
        let rollover = next_ip == 0;
        let next = Net {
            ip: next_ip & m,
            prefix: length,
            bits: base.bits,
        };
        let contained = next.ip & mask(base.prefix, base.bits) == base.ip;
        if rollover || !contained {
            return Err(Fail::Arg(
                i + 1,
                format!(
                    "not enough remaining address space for a subnet with a prefix of {length} bits after {}",
                    net_text(current)
                ),
            ));
        }
        current = next;
        out.push(Val::str(net_text(current)));
    }
    Ok(Val::List(Ty::Str, out))
}
