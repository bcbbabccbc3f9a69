//! String functions: go-cty v1.12.1 `cty/function/stdlib/string.go` (upper, lower,
//! reverse/strrev, strlen, substr, join, sort, split, chomp, indent, title, trimspace, trim,
//! trimprefix, trimsuffix) and `string_replace.go` (replace, regex_replace).
//!
//! "Characters" are grapheme clusters where cty counts them (strlen, substr, reverse), as
//! cty does with go-textseg. Case mapping is Go's per-rune simple mapping (`ß` stays `ß`,
//! `Σ` always lowers to `σ`), not Rust's full, context-sensitive mapping.

use unicode_segmentation::UnicodeSegmentation;

use super::value::{Ty, Val};
use super::{int_arg, s, Ctx, Fail, Res};

fn one(args: &[Val]) -> &str {
    args.first().map_or("", s)
}

/// Go's `unicode.ToUpper` on one rune: the simple uppercase mapping.
fn upper_rune(c: char) -> char {
    let mut it = c.to_uppercase();
    match (it.next(), it.next()) {
        (Some(u), None) => u,
        _ => simple_upper_fallback(c),
    }
}

/// Runes whose full uppercase mapping has several characters but whose simple mapping is a
/// single different one (Greek with ypogegrammeni: `ᾳ` -> `ᾼ`).
fn simple_upper_fallback(c: char) -> char {
    let cp = c as u32;
    let mapped = match cp {
        0x1F80..=0x1F87 | 0x1F90..=0x1F97 | 0x1FA0..=0x1FA7 => cp + 8,
        0x1FB3 | 0x1FC3 | 0x1FF3 => cp + 9,
        _ => cp,
    };
    char::from_u32(mapped).unwrap_or(c)
}

/// Go's `unicode.ToLower` on one rune.
fn lower_rune(c: char) -> char {
    if c == '\u{130}' {
        return 'i';
    }
    let mut it = c.to_lowercase();
    match (it.next(), it.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

/// Go's `unicode.ToTitle` on one rune.
fn title_rune(c: char) -> char {
    match c {
        '\u{1C4}'..='\u{1C6}' => '\u{1C5}',
        '\u{1C7}'..='\u{1C9}' => '\u{1C8}',
        '\u{1CA}'..='\u{1CC}' => '\u{1CB}',
        '\u{1F1}'..='\u{1F3}' => '\u{1F2}',
        _ => upper_rune(c),
    }
}

pub(super) fn upper(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    Ok(Val::str(
        one(&args).chars().map(upper_rune).collect::<String>(),
    ))
}

pub(super) fn lower(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    Ok(Val::str(
        one(&args).chars().map(lower_rune).collect::<String>(),
    ))
}

/// `strings.Title`: the first letter of every word in title case; a word starts after a
/// separator (ASCII other than letters, digits and `_`, or Unicode white space).
pub(super) fn title(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    let mut prev = ' ';
    let mut out = String::new();
    for c in one(&args).chars() {
        out.push(if is_separator(prev) { title_rune(c) } else { c });
        prev = c;
    }
    Ok(Val::str(out))
}

fn is_separator(c: char) -> bool {
    if c.is_ascii() {
        return !(c.is_ascii_alphanumeric() || c == '_');
    }
    if c.is_alphabetic() || c.is_numeric() {
        return false;
    }
    c.is_whitespace()
}

pub(super) fn reverse(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    Ok(Val::str(
        one(&args).graphemes(true).rev().collect::<String>(),
    ))
}

pub(super) fn strlen(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    let n = one(&args).graphemes(true).count();
    Ok(Val::int(i64::try_from(n).unwrap_or(i64::MAX)))
}

/// `substr(str, offset, length)` over grapheme clusters; a negative offset counts from the
/// end, a negative length means "to the end".
pub(super) fn substr(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    let text = s(&args[0]);
    let mut offset = int_arg(&args[1], 1)?;
    let length = int_arg(&args[2], 2)?;
    let clusters: Vec<&str> = text.graphemes(true).collect();
    let total = i64::try_from(clusters.len()).unwrap_or(i64::MAX);
    if offset < 0 {
        offset = offset.saturating_add(total);
    } else if length == 0 {
        return Ok(Val::str(""));
    }
    // cty walks forward `offset` clusters; an offset at or past the end gives "".
    let start = if offset > 0 {
        if offset >= total {
            return Ok(Val::str(""));
        }
        usize::try_from(offset).unwrap_or(0)
    } else {
        0
    };
    let rest = &clusters[start..];
    if length < 0 {
        return Ok(Val::str(rest.concat()));
    }
    // A zero length after a negative offset never stops cty's loop: it takes the rest.
    let take = match usize::try_from(length) {
        Ok(0) | Err(_) => rest.len(),
        Ok(n) => n.min(rest.len()),
    };
    Ok(Val::str(rest[..take].concat()))
}

pub(super) fn join(args: Vec<Val>, ctx: &Ctx<'_>) -> Res {
    let mut it = args.into_iter();
    let sep = it.next().map(|v| s(&v).to_string()).unwrap_or_default();
    let lists: Vec<Val> = it.collect();
    if lists.is_empty() {
        return Err(Fail::msg("at least one list is required"));
    }
    let many = lists.len() > 1;
    let mut items: Vec<String> = Vec::new();
    let mut size = 0usize;
    for (li, list) in lists.into_iter().enumerate() {
        for (ei, v) in list.into_elements().into_iter().enumerate() {
            match v {
                Val::Str(x) => {
                    size = size.saturating_add(x.len()).saturating_add(sep.len());
                    items.push(x);
                }
                _ => {
                    return Err(Fail::Arg(
                        li + 1,
                        if many {
                            format!(
                                "element {ei} of list {} is null; cannot concatenate null values",
                                li + 1
                            )
                        } else {
                            format!("element {ei} is null; cannot concatenate null values")
                        },
                    ))
                }
            }
        }
        ctx.check(size)?;
    }
    Ok(Val::str(items.join(&sep)))
}

pub(super) fn sort(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    let mut items = Vec::new();
    for (i, v) in args.into_iter().flat_map(Val::into_elements).enumerate() {
        match v {
            Val::Str(x) => items.push(x),
            _ => {
                return Err(Fail::msg(format!(
                    "given list element {i} is null; a null string cannot be sorted"
                )))
            }
        }
    }
    items.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    Ok(Val::List(
        Ty::Str,
        items.into_iter().map(Val::Str).collect(),
    ))
}

/// `strings.Split`: an empty separator splits after every character (rune); an empty
/// string split by an empty separator is an empty list.
pub(super) fn split(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    let sep = s(&args[0]);
    let text = s(&args[1]);
    let parts: Vec<Val> = if sep.is_empty() {
        text.chars().map(|c| Val::str(c.to_string())).collect()
    } else {
        text.split(sep).map(Val::str).collect()
    };
    Ok(Val::List(Ty::Str, parts))
}

/// Removes every trailing `\n`, `\r\n` and `\r` (cty: `(?:\r\n?|\n)*\z`).
pub(super) fn chomp(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    Ok(Val::str(one(&args).trim_end_matches(['\r', '\n'])))
}

pub(super) fn indent(args: Vec<Val>, ctx: &Ctx<'_>) -> Res {
    let spaces = int_arg(&args[0], 0)?;
    let text = s(&args[1]);
    let spaces =
        usize::try_from(spaces).map_err(|_| Fail::msg("strings: negative Repeat count"))?;
    let lines = text.matches('\n').count();
    ctx.check(lines.saturating_mul(spaces).saturating_add(text.len()))?;
    let pad = format!("\n{}", " ".repeat(spaces));
    Ok(Val::str(text.replace('\n', &pad)))
}

pub(super) fn trimspace(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    Ok(Val::str(one(&args).trim()))
}

pub(super) fn trim(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    let cutset = s(&args[1]);
    Ok(Val::str(s(&args[0]).trim_matches(|c| cutset.contains(c))))
}

pub(super) fn trimprefix(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    let t = s(&args[0]);
    Ok(Val::str(t.strip_prefix(s(&args[1])).unwrap_or(t)))
}

pub(super) fn trimsuffix(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    let t = s(&args[0]);
    Ok(Val::str(t.strip_suffix(s(&args[1])).unwrap_or(t)))
}

/// `strings.Replace(str, substr, replace, -1)`; the result size is known before building.
pub(super) fn replace(args: Vec<Val>, ctx: &Ctx<'_>) -> Res {
    let (text, from, to) = (s(&args[0]), s(&args[1]), s(&args[2]));
    let count = if from.is_empty() {
        text.chars().count() + 1
    } else {
        text.matches(from).count()
    };
    let size = text
        .len()
        .saturating_sub(count.saturating_mul(from.len()))
        .saturating_add(count.saturating_mul(to.len()));
    ctx.check(size)?;
    Ok(Val::str(text.replace(from, to)))
}

/// `regexp.ReplaceAllString` with Go (RE2) syntax; `$1`, `${name}` and `$$` in the
/// replacement as in Go. The result is built piece by piece under the size limit.
pub(super) fn regex_replace(args: Vec<Val>, ctx: &Ctx<'_>) -> Res {
    let (text, pattern, repl) = (s(&args[0]), s(&args[1]), s(&args[2]));
    let re = compile_go_regex(pattern).map_err(Fail::Msg)?;
    // One expansion is at most the template plus the match once per `$`.
    let dollars = repl.matches('$').count();
    let mut out = String::new();
    let mut last = 0;
    for caps in re.captures_iter(text) {
        let Some(m) = caps.get(0) else { continue };
        out.push_str(&text[last..m.start()]);
        ctx.check(
            out.len()
                .saturating_add(repl.len())
                .saturating_add(dollars.saturating_mul(m.len())),
        )
        .or_else(|_| {
            // The bound was too coarse: expand and measure.
            let mut one = String::new();
            caps.expand(repl, &mut one);
            ctx.check(out.len().saturating_add(one.len()))
        })?;
        caps.expand(repl, &mut out);
        last = m.end();
        ctx.check(out.len().saturating_add(text.len() - last))?;
    }
    out.push_str(&text[last..]);
    Ok(Val::str(out))
}

/// Compiles a Go (RE2) regular expression with the `regex` crate. The two syntaxes agree
/// except that Go's `\d`, `\w`, `\s` and `\b` are ASCII-only, so those are rewritten to
/// ASCII classes; Go's limit on repetition counts (1000) is kept.
pub(super) fn compile_go_regex(pattern: &str) -> Result<regex::Regex, String> {
    let translated = translate_go_regex(pattern)?;
    regex::RegexBuilder::new(&translated)
        .size_limit(10 << 20)
        .nest_limit(250)
        .build()
        .map_err(|e| format!("error parsing regexp: {e}"))
}

fn translate_go_regex(pattern: &str) -> Result<String, String> {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '(' && chars.peek() == Some(&'?') {
            // Go 1.21 (Nomad's) has no `(?<name>...)` groups, nor look-around.
            let rest: String = chars.clone().take(3).collect();
            if rest.starts_with("?<") {
                return Err(
                    "error parsing regexp: invalid or unsupported Perl syntax: `(?<`".into(),
                );
            }
        }
        if c == '\\' && chars.peek() == Some(&'Q') {
            // `\Q...\E`: literal text.
            chars.next();
            let mut lit = String::new();
            while let Some(q) = chars.next() {
                if q == '\\' && chars.peek() == Some(&'E') {
                    chars.next();
                    break;
                }
                lit.push(q);
            }
            out.push_str(&regex::escape(&lit));
            continue;
        }
        if c == '\\' {
            let Some(n) = chars.next() else {
                return Err("error parsing regexp: trailing backslash at end of expression".into());
            };
            match n {
                'd' => out.push_str("[0-9]"),
                'D' => out.push_str("[^0-9]"),
                'w' => out.push_str("[0-9A-Za-z_]"),
                'W' => out.push_str("[^0-9A-Za-z_]"),
                's' => out.push_str("[\\t\\n\\f\\r ]"),
                'S' => out.push_str("[^\\t\\n\\f\\r ]"),
                'b' => out.push_str("(?-u:\\b)"),
                'B' => out.push_str("(?-u:\\B)"),
                other => {
                    out.push('\\');
                    out.push(other);
                }
            }
        } else if c == '{' {
            // Go refuses repetition counts above 1000.
            let mut count = String::new();
            while let Some(&d) = chars.peek() {
                if d.is_ascii_digit() || d == ',' {
                    count.push(d);
                    chars.next();
                } else {
                    break;
                }
            }
            if count
                .split(',')
                .any(|n| n.parse::<u64>().is_ok_and(|n| n > 1000))
            {
                return Err(format!(
                    "error parsing regexp: invalid repeat count: `{{{count}`"
                ));
            }
            out.push('{');
            out.push_str(&count);
        } else {
            out.push(c);
        }
    }
    Ok(out)
}
