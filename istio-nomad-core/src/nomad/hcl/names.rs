//! Name and value conventions shared by both directions: HCL identifiers, the generic
//! `snake_case` <-> `PascalCase` rule for keys the tables do not know, and Go durations.

/// Go initialisms: the lower-case HCL word and the JSON spelling Nomad's Go structs use.
///
/// A `snake_case` segment equal to a left-hand entry becomes the right-hand spelling
/// (`grpc_use_tls` -> `GRPCUseTLS`); the reverse rule splits a `PascalCase` key at these
/// spellings (`ExcludeOutboundCIDRs` -> `exclude_outbound_cidrs`).
pub(crate) const ACRONYMS: &[(&str, &str)] = &[
    ("acl", "ACL"),
    ("api", "API"),
    ("ca", "CA"),
    ("cidr", "CIDR"),
    ("cidrs", "CIDRs"),
    ("cni", "CNI"),
    ("cpu", "CPU"),
    ("csi", "CSI"),
    ("dns", "DNS"),
    ("fs", "FS"),
    ("gid", "GID"),
    ("gids", "GIDs"),
    ("grpc", "GRPC"),
    ("hcl", "HCL"),
    ("http", "HTTP"),
    ("https", "HTTPS"),
    ("id", "ID"),
    ("ids", "IDs"),
    ("iops", "IOPS"),
    ("ip", "IP"),
    ("json", "JSON"),
    ("mb", "MB"),
    ("numa", "NUMA"),
    ("sds", "SDS"),
    ("sni", "SNI"),
    ("tcp", "TCP"),
    ("tls", "TLS"),
    ("ttl", "TTL"),
    ("udp", "UDP"),
    ("ui", "UI"),
    ("uid", "UID"),
    ("uids", "UIDs"),
    ("url", "URL"),
];

/// The generic HCL -> JSON key rule: split at `_`, capitalise each segment, and spell the
/// segments listed in [`ACRONYMS`] the Go way (`max_parallel` -> `MaxParallel`,
/// `tls_server_name` -> `TLSServerName`). A segment that already contains an upper-case
/// letter is kept as written, so a key such as `Uid` maps to itself.
pub fn pascal_case(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    for seg in snake.split('_') {
        if seg.is_empty() {
            out.push('_');
            continue;
        }
        if seg.chars().any(|c| c.is_ascii_uppercase()) {
            out.push_str(seg);
            continue;
        }
        if let Some((_, go)) = ACRONYMS.iter().find(|(low, _)| *low == seg) {
            out.push_str(go);
            continue;
        }
        let mut chars = seg.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(chars.as_str());
        }
    }
    out
}

/// The reverse of [`pascal_case`]: `GRPCUseTLS` -> `grpc_use_tls`, `MaxParallel` ->
/// `max_parallel`, `ExcludeOutboundCIDRs` -> `exclude_outbound_cidrs`.
///
/// The two rules are inverse for every key Nomad's Go structs produce; callers check
/// `pascal_case(&snake_case(k)) == k` before relying on it for a key they do not know.
pub fn snake_case(pascal: &str) -> String {
    let bytes = pascal.as_bytes();
    let mut words: Vec<String> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        // Longest Go initialism at this position that ends at a word boundary.
        let mut matched = None;
        for (low, go) in ACRONYMS {
            if pascal[i..].starts_with(go) {
                let end = i + go.len();
                let boundary = end == bytes.len()
                    || bytes[end].is_ascii_uppercase()
                    || bytes[end].is_ascii_digit()
                    || bytes[end] == b'_';
                if boundary && matched.is_none_or(|(_, l): (&str, usize)| go.len() > l) {
                    matched = Some((*low, go.len()));
                }
            }
        }
        if let Some((low, len)) = matched {
            words.push(low.to_string());
            i += len;
            continue;
        }
        let c = pascal[i..].chars().next().unwrap_or('_');
        if c == '_' {
            i += 1;
            continue;
        }
        let mut word = String::new();
        word.extend(c.to_lowercase());
        i += c.len_utf8();
        while i < bytes.len() {
            let c = pascal[i..].chars().next().unwrap_or('_');
            if c.is_ascii_uppercase() || c == '_' {
                break;
            }
            word.push(c);
            i += c.len_utf8();
        }
        words.push(word);
    }
    words.join("_")
}

/// True when `s` can be written bare as an HCL attribute name, block type or object key:
/// an ASCII letter or `_` followed by letters, digits, `_` or `-`, and not one of the
/// literal keywords `true`, `false`, `null`.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    if !(first.is_ascii_alphabetic() || first == '_') {
        return false;
    }
    if !chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return false;
    }
    !matches!(s, "true" | "false" | "null")
}

const NANOS: [(&str, i128); 6] = [
    ("h", 3_600_000_000_000),
    ("m", 60_000_000_000),
    ("s", 1_000_000_000),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("ns", 1),
];

/// Parses a Go duration (`"30s"`, `"1h30m"`, `"1.5s"`, `"100ms"`, `"-5m"`, `"0"`) into
/// nanoseconds, the way Go's `time.ParseDuration` does (units `ns`, `us`, `µs`, `ms`, `s`,
/// `m`, `h`).
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let bad = || format!("invalid duration {text:?}");
    let mut s = text;
    let mut negative = false;
    if let Some(rest) = s.strip_prefix('-') {
        negative = true;
        s = rest;
    } else if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(bad());
    }
    let mut total: i128 = 0;
    while !s.is_empty() {
        let int_len = s.bytes().take_while(u8::is_ascii_digit).count();
        let (int_part, rest) = s.split_at(int_len);
        let (frac_part, rest) = match rest.strip_prefix('.') {
            Some(r) => {
                let n = r.bytes().take_while(u8::is_ascii_digit).count();
                r.split_at(n)
            }
            None => ("", rest),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(bad());
        }
        let unit_len = rest
            .bytes()
            .take_while(|b| !b.is_ascii_digit() && *b != b'.')
            .count();
        let (unit, rest) = rest.split_at(unit_len);
        let scale = match unit {
            "h" => NANOS[0].1,
            "m" => NANOS[1].1,
            "s" => NANOS[2].1,
            "ms" => NANOS[3].1,
            "us" | "µs" | "μs" => NANOS[4].1,
            "ns" => NANOS[5].1,
            "" => return Err(format!("missing unit in duration {text:?}")),
            other => return Err(format!("unknown unit {other:?} in duration {text:?}")),
        };
        let whole: i128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse::<i128>().map_err(|_| bad())?
        };
        let mut value = whole.checked_mul(scale).ok_or_else(bad)?;
        if !frac_part.is_empty() {
            // Exact for every digit that still matters at nanosecond precision.
            let digits = &frac_part[..frac_part.len().min(18)];
            let num: i128 = digits.parse().map_err(|_| bad())?;
            let den = 10i128.pow(digits.len() as u32);
            value += num * scale / den;
        }
        total = total.checked_add(value).ok_or_else(bad)?;
        if total > i128::from(i64::MAX) + 1 {
            return Err(format!("duration {text:?} is out of range"));
        }
        s = rest;
    }
    let signed = if negative { -total } else { total };
    i64::try_from(signed).map_err(|_| format!("duration {text:?} is out of range"))
}

/// Renders nanoseconds as the shortest exact Go duration made of whole units:
/// `30000000000` -> `"30s"`, `5400000000000` -> `"1h30m"`, `100000000` -> `"100ms"`,
/// `1500000000` -> `"1s500ms"`, `0` -> `"0s"`. [`parse_duration`] reads it back exactly.
pub fn format_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    if nanos < 0 {
        out.push('-');
    }
    let mut rest = i128::from(nanos).abs();
    for (unit, scale) in NANOS {
        let n = rest / scale;
        if n > 0 {
            out.push_str(&n.to_string());
            out.push_str(unit);
            rest -= n * scale;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn pascal_and_snake_are_inverse_for_go_names() {
        for (snake, pascal) in [
            ("max_parallel", "MaxParallel"),
            ("grpc_use_tls", "GRPCUseTLS"),
            ("tls_skip_verify", "TLSSkipVerify"),
            ("exclude_outbound_cidrs", "ExcludeOutboundCIDRs"),
            ("exclude_uids", "ExcludeUIDs"),
            ("no_dns", "NoDNS"),
            ("disable_default_tcp_check", "DisableDefaultTCPCheck"),
            ("node_pool", "NodePool"),
            ("ca_file", "CAFile"),
            ("id", "ID"),
            ("memory_max_mb", "MemoryMaxMB"),
            ("envoy_dns_discovery_type", "EnvoyDNSDiscoveryType"),
            ("ip_address", "IPAddress"),
            ("identity", "Identity"),
            ("cards", "Cards"),
        ] {
            assert_eq!(pascal_case(snake), pascal, "{snake}");
            assert_eq!(snake_case(pascal), snake, "{pascal}");
        }
        // Not every key survives: `Uid` has no snake spelling that maps back to it.
        assert_eq!(snake_case("Uid"), "uid");
        assert_eq!(pascal_case("uid"), "UID");
        assert_eq!(pascal_case("Uid"), "Uid");
    }

    #[test]
    fn identifiers() {
        assert!(is_identifier("my-cool-key"));
        assert!(is_identifier("_x1"));
        assert!(!is_identifier("1x"));
        assert!(!is_identifier("a.b"));
        assert!(!is_identifier(""));
        assert!(!is_identifier("true"));
    }

    #[test]
    fn durations_round_trip() {
        for (text, ns) in [
            ("30s", 30_000_000_000),
            ("1h30m", 5_400_000_000_000),
            ("5m", 300_000_000_000),
            ("100ms", 100_000_000),
            ("1s500ms", 1_500_000_000),
            ("0s", 0),
            ("-5s", -5_000_000_000),
            ("24h", 86_400_000_000_000),
            ("1us", 1_000),
            ("7ns", 7),
        ] {
            assert_eq!(parse_duration(text).unwrap(), ns, "{text}");
            assert_eq!(format_duration(ns), text);
        }
        assert_eq!(parse_duration("1.5s").unwrap(), 1_500_000_000);
        assert_eq!(parse_duration("0").unwrap(), 0);
        assert_eq!(parse_duration("2h45m30.5s").unwrap(), 9_930_500_000_000);
        assert_eq!(parse_duration("1µs").unwrap(), 1_000);
        assert!(parse_duration("").is_err());
        assert!(parse_duration("10").unwrap_err().contains("missing unit"));
        assert!(parse_duration("3x").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("9999999999h")
            .unwrap_err()
            .contains("out of range"));
        assert_eq!(format_duration(i64::MIN), "-2562047h47m16s854ms775us808ns");
        assert_eq!(
            parse_duration(&format_duration(i64::MIN)).unwrap(),
            i64::MIN
        );
    }
}
