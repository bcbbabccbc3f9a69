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
/// segments listed in `ACRONYMS` the Go way (`max_parallel` -> `MaxParallel`,
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
/// literal keywords `true`, `false`, `null`, nor `for`: an object whose first key is a bare
/// `for` is read as a `for` expression (`{ for = 1 }` does not parse; hclsyntax
/// `parser.parseObjectCons`, hcl v2.14.1, checks `forKeyword` first), so it is quoted.
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
    !matches!(s, "true" | "false" | "null" | "for")
}

/// True when `s` can be an HCL attribute name or block type in HashiCorp's HCL (and here):
/// a letter or `_`, then letters, digits, `_` or `-`, where letters are Unicode `ID_Start` /
/// `ID_Continue` as of Unicode 9.0, the tables hclsyntax's scanner is generated from
/// (`hclsyntax/generate.go`, hcl v2). The keywords `true`, `false` and `null` are names
/// too (`config { null = 1 }`); as object keys they must be quoted (see [`is_identifier`]).
pub fn is_hcl_name(s: &str) -> bool {
    if s.is_ascii() {
        let mut chars = s.chars();
        return chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    }
    hcl::Identifier::new(s).is_ok()
        && !s.chars().any(|c| {
            let c = u32::from(c);
            NOT_IN_UNICODE_9_IDENTIFIERS
                .binary_search_by(|&(lo, hi)| {
                    if hi < c {
                        std::cmp::Ordering::Less
                    } else if lo > c {
                        std::cmp::Ordering::Greater
                    } else {
                        std::cmp::Ordering::Equal
                    }
                })
                .is_ok()
        })
}

/// Code points that hcl-rs accepts in identifiers (Unicode `XID_Start` / `XID_Continue` of
/// a newer Unicode) but HashiCorp's hclsyntax (Unicode 9.0 tables) does not, at any
/// position. Sorted, inclusive ranges; the test `hcl_hashicorp` checks every code point
/// against `hclsyntax.ValidIdentifier`.
#[rustfmt::skip]
const NOT_IN_UNICODE_9_IDENTIFIERS: &[(u32, u32)] = &[
    (0x558, 0x558), (0x560, 0x560), (0x588, 0x588), (0x58B, 0x58C), (0x5C8, 0x5C9),
    (0x5EF, 0x5EF), (0x7FD, 0x7FD), (0x860, 0x86A), (0x870, 0x887), (0x889, 0x88F),
    (0x897, 0x89F), (0x8B5, 0x8B5), (0x8BE, 0x8D3), (0x9FC, 0x9FC), (0x9FE, 0x9FE),
    (0xAFA, 0xAFF), (0xB53, 0xB55), (0xC04, 0xC04), (0xC3C, 0xC3C), (0xC5C, 0xC5D),
    (0xCDC, 0xCDD), (0xCF3, 0xCF3), (0xD00, 0xD00), (0xD04, 0xD04), (0xD3B, 0xD3C),
    (0xD81, 0xD81), (0xE86, 0xE86), (0xE89, 0xE89), (0xE8C, 0xE8C), (0xE8E, 0xE93),
    (0xE98, 0xE98), (0xEA0, 0xEA0), (0xEA8, 0xEA9), (0xEAC, 0xEAC), (0xEBA, 0xEBA),
    (0xECE, 0xECE), (0x170D, 0x170D), (0x1715, 0x1715), (0x171F, 0x171F), (0x180F, 0x180F),
    (0x1878, 0x1878), (0x1ABF, 0x1AF0), (0x1B4C, 0x1B4C), (0x1C89, 0x1C8A), (0x1C90, 0x1CBA),
    (0x1CBD, 0x1CBF), (0x1CF2, 0x1CF3), (0x1CF7, 0x1CF7), (0x1CFA, 0x1CFA), (0x1DF6, 0x1DFA),
    (0x200C, 0x200D), (0x208F, 0x208F), (0x209D, 0x209F), (0x2C2F, 0x2C2F), (0x2C5F, 0x2C5F),
    (0x30FB, 0x30FB), (0x312E, 0x312F), (0x31BB, 0x31BF), (0x4DB6, 0x4DBF), (0x9FD6, 0x9FFF),
    (0xA7AF, 0xA7AF), (0xA7B8, 0xA7DD), (0xA7E2, 0xA7E2), (0xA7F1, 0xA7F6), (0xA82C, 0xA82C),
    (0xA8FE, 0xA8FF), (0xAB66, 0xAB69), (0xAB6C, 0xAB6D), (0xFF65, 0xFF65), (0x1032D, 0x1032F),
    (0x10570, 0x1057A), (0x1057C, 0x1058A), (0x1058C, 0x10592), (0x10594, 0x10595),
    (0x10597, 0x105A1), (0x105A3, 0x105B1), (0x105B3, 0x105B9), (0x105BB, 0x105BC),
    (0x105C0, 0x105F3), (0x10780, 0x10785), (0x10787, 0x107B0), (0x107B2, 0x107BF),
    (0x10940, 0x10959), (0x10A34, 0x10A35), (0x10D00, 0x10D27), (0x10D30, 0x10D39),
    (0x10D40, 0x10D65), (0x10D69, 0x10D6D), (0x10D6F, 0x10D85), (0x10E80, 0x10EA9),
    (0x10EAB, 0x10EAC), (0x10EB0, 0x10EB1), (0x10EC2, 0x10EC7), (0x10ECB, 0x10ECF),
    (0x10ED9, 0x10EEE), (0x10EF0, 0x10F1C), (0x10F27, 0x10F27), (0x10F30, 0x10F50),
    (0x10F70, 0x10F85), (0x10FB0, 0x10FC4), (0x10FE0, 0x10FF6), (0x11070, 0x11075),
    (0x110C2, 0x110C2), (0x11144, 0x11147), (0x111C9, 0x111C9), (0x111CE, 0x111CF),
    (0x1123F, 0x11241), (0x1133B, 0x1133B), (0x11380, 0x11389), (0x1138B, 0x1138B),
    (0x1138E, 0x1138E), (0x11390, 0x113B5), (0x113B7, 0x113C0), (0x113C2, 0x113C2),
    (0x113C5, 0x113C5), (0x113C7, 0x113CA), (0x113CC, 0x113D3), (0x113E1, 0x113E2),
    (0x1145E, 0x11461), (0x116B8, 0x116B8), (0x116D0, 0x116E3), (0x1171A, 0x1171A),
    (0x11740, 0x11746), (0x11800, 0x1183A), (0x11900, 0x11906), (0x11909, 0x11909),
    (0x1190C, 0x11913), (0x11915, 0x11916), (0x11918, 0x11935), (0x11937, 0x11938),
    (0x1193B, 0x11943), (0x11950, 0x11959), (0x119A0, 0x119A7), (0x119AA, 0x119D7),
    (0x119DA, 0x119E1), (0x119E3, 0x119E4), (0x11A00, 0x11A3E), (0x11A47, 0x11A47),
    (0x11A50, 0x11A99), (0x11A9D, 0x11A9D), (0x11AB0, 0x11ABF), (0x11B0A, 0x11B0A),
    (0x11B60, 0x11B67), (0x11BC0, 0x11BE0), (0x11BF0, 0x11BF9), (0x11D00, 0x11D06),
    (0x11D08, 0x11D09), (0x11D0B, 0x11D36), (0x11D3A, 0x11D3A), (0x11D3C, 0x11D3D),
    (0x11D3F, 0x11D47), (0x11D50, 0x11D59), (0x11D60, 0x11D65), (0x11D67, 0x11D68),
    (0x11D6A, 0x11D8E), (0x11D90, 0x11D91), (0x11D93, 0x11D98), (0x11DA0, 0x11DA9),
    (0x11DB0, 0x11DDB), (0x11DE0, 0x11DE9), (0x11DF0, 0x11DF1), (0x11EE0, 0x11EF6),
    (0x11F00, 0x11F10), (0x11F12, 0x11F3A), (0x11F3E, 0x11F42), (0x11F50, 0x11F5A),
    (0x11FB0, 0x11FB0), (0x1246F, 0x1246F), (0x12475, 0x1247F), (0x12550, 0x12686),
    (0x12F90, 0x12FF0), (0x1342F, 0x1342F), (0x13440, 0x13455), (0x13460, 0x143FA),
    (0x16100, 0x16139), (0x16A70, 0x16ABE), (0x16AC0, 0x16AC9), (0x16D40, 0x16D6C),
    (0x16D70, 0x16D79), (0x16E40, 0x16E7F), (0x16EA0, 0x16EB8), (0x16EBB, 0x16ED3),
    (0x16F45, 0x16F4A), (0x16F4F, 0x16F4F), (0x16F7F, 0x16F87), (0x16FE1, 0x16FE1),
    (0x16FE3, 0x16FE4), (0x16FF0, 0x16FF6), (0x187ED, 0x187FF), (0x18AF3, 0x18CDA),
    (0x18CFF, 0x18D20), (0x18D80, 0x18DF2), (0x18E00, 0x19191), (0x191A0, 0x191D2),
    (0x1AFF0, 0x1AFF3), (0x1AFF5, 0x1AFFB), (0x1AFFD, 0x1AFFE), (0x1B002, 0x1B128),
    (0x1B132, 0x1B132), (0x1B150, 0x1B152), (0x1B155, 0x1B155), (0x1B164, 0x1B168),
    (0x1B170, 0x1B2FB), (0x1CCF0, 0x1CCF9), (0x1CF00, 0x1CF2D), (0x1CF30, 0x1CF46),
    (0x1D127, 0x1D128), (0x1D250, 0x1D252), (0x1D25B, 0x1D25C), (0x1D25F, 0x1D25F),
    (0x1D280, 0x1D281), (0x1D6A6, 0x1D6A6), (0x1DF00, 0x1DF81), (0x1DF90, 0x1DF96),
    (0x1DFCD, 0x1DFFF), (0x1E030, 0x1E06D), (0x1E08F, 0x1E08F), (0x1E100, 0x1E12C),
    (0x1E130, 0x1E13D), (0x1E140, 0x1E149), (0x1E14E, 0x1E14E), (0x1E290, 0x1E2AE),
    (0x1E2C0, 0x1E2F9), (0x1E4D0, 0x1E4F9), (0x1E5D0, 0x1E5FA), (0x1E6C0, 0x1E6DE),
    (0x1E6E0, 0x1E6F5), (0x1E6FE, 0x1E6FF), (0x1E7E0, 0x1E7E6), (0x1E7E8, 0x1E7EB),
    (0x1E7ED, 0x1E7EE), (0x1E7F0, 0x1E7FE), (0x1E94B, 0x1E94B), (0x1FBF0, 0x1FBF9),
    (0x2A6D7, 0x2A6DF), (0x2B735, 0x2B73F), (0x2B81E, 0x2B81E), (0x2CEA2, 0x2CEAD),
    (0x2CEB0, 0x2EBE0), (0x2EBF0, 0x2EE5D), (0x30000, 0x3134A), (0x31350, 0x33479),
    (0x3D000, 0x3FC3F),
];

/// The HCL names that the generic rule ([`pascal_case`]) reads as `key`, best first: the
/// `snake_case` spelling (`MaxTTL` -> `max_ttl`) when it maps back, then the key itself
/// with each `_` doubled (`Reschedule` -> `Reschedule`, `A_B` -> `A__B`), which maps back
/// whenever the key's words start with an upper-case letter. Empty when no HCL name reads
/// as `key` (`foo`, `a.b`, `9x`).
pub(crate) fn generic_spellings(key: &str) -> Vec<String> {
    let mut out = Vec::with_capacity(2);
    let snake = snake_case(key);
    if is_hcl_name(&snake) && pascal_case(&snake) == key {
        out.push(snake);
    }
    // `pascal_case` turns each empty segment of the name into one `_` and joins the others
    // without one, so each `_` of the key needs its own empty segment.
    let mut name = String::with_capacity(key.len() + 4);
    let mut first = true;
    for run in key.split_inclusive('_') {
        let (word, underscore) = match run.strip_suffix('_') {
            Some(w) => (w, true),
            None => (run, false),
        };
        if !word.is_empty() {
            if !first {
                name.push('_');
            }
            name.push_str(word);
            first = false;
        }
        if underscore {
            if !first {
                name.push('_');
            }
            first = false;
        }
    }
    if !out.contains(&name) && is_hcl_name(&name) && pascal_case(&name) == key {
        out.push(name);
    }
    out
}

const NANOS: [(&str, i128); 6] = [
    ("h", 3_600_000_000_000),
    ("m", 60_000_000_000),
    ("s", 1_000_000_000),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("ns", 1),
];

/// A text that is not a Go duration; the message says why (`invalid duration "10": missing
/// unit`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidDuration(pub String);

/// Parses a Go duration (`"30s"`, `"1h30m"`, `"1.5s"`, `"100ms"`, `"-5m"`, `"0"`) into
/// nanoseconds, the way Go's `time.ParseDuration` does (units `ns`, `us`, `µs`, `ms`, `s`,
/// `m`, `h`).
pub fn parse_duration(text: &str) -> Result<i64, InvalidDuration> {
    duration_nanos(text).map_err(InvalidDuration)
}

pub(crate) fn duration_nanos(text: &str) -> Result<i64, String> {
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
        assert!(!is_identifier("for"));
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
        assert!(parse_duration("10").unwrap_err().0.contains("missing unit"));
        assert!(parse_duration("3x").unwrap_err().0.contains("unknown unit"));
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("9999999999h")
            .unwrap_err()
            .0
            .contains("out of range"));
        assert_eq!(format_duration(i64::MIN), "-2562047h47m16s854ms775us808ns");
        assert_eq!(
            parse_duration(&format_duration(i64::MIN)).unwrap(),
            i64::MIN
        );
    }
}
