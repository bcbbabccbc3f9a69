//! The crate's top-level modules follow the flow spec -> plan -> apply: a module may use the
//! modules of its own layer or a lower one, never a higher one, so the module graph has no
//! cycle. This test reads the sources, finds every `crate::<module>` path outside comments and
//! fails on an edge that points up (and names the file and line).
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, lowest first. Keep in step with the table in `src/lib.rs`.
const LAYERS: &[&[&str]] = &[
    &["error"],
    &["nomad", "iptables", "istio"],
    &["spec"],
    &["plan"],
    &["backend"],
    &["install"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The source with comments and string literals blanked out (line breaks kept), so that doc
/// links and messages do not count as uses.
fn code_only(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            let mut depth = 0;
            while i < b.len() {
                if b[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if b[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if b[i] == b'\n' {
                        out.push('\n');
                    }
                    i += 1;
                }
            }
        } else if b[i] == b'r' && (b[i..].starts_with(b"r\"") || b[i..].starts_with(b"r#")) {
            // Raw string: r"..." or r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while j < b.len() && b[j] == b'#' {
                hashes += 1;
                j += 1;
            }
            if j < b.len() && b[j] == b'"' {
                let close: Vec<u8> = std::iter::once(b'"')
                    .chain(std::iter::repeat_n(b'#', hashes))
                    .collect();
                j += 1;
                while j < b.len() && !b[j..].starts_with(&close) {
                    if b[j] == b'\n' {
                        out.push('\n');
                    }
                    j += 1;
                }
                i = j + close.len();
                out.push_str("\"\"");
            } else {
                out.push('r');
                i += 1;
            }
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    i += 1;
                }
                if i < b.len() && b[i] == b'\n' {
                    out.push('\n');
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if b[i] == b'\'' && i + 2 < b.len() && (b[i + 2] == b'\'' || b[i + 1] == b'\\') {
            // A char literal ('"', '\'', '\n'); lifetimes ('a) are left alone.
            let mut j = i + 1;
            if b[j] == b'\\' {
                j += 1;
            }
            j += 1;
            while j < b.len() && b[j] != b'\'' {
                j += 1;
            }
            i = j + 1;
            out.push_str("' '");
        } else {
            let ch = src[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// Every top-level module named after `crate::` in the code, with its line number;
/// `crate::{a::X, b}` names `a` and `b`.
fn crate_uses(code: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    for (n, line) in code.lines().enumerate() {
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            let before = rest[..at].chars().next_back();
            rest = &rest[at + "crate::".len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
                continue;
            }
            if let Some(group) = rest.strip_prefix('{') {
                // Top-level names of a brace group on this line.
                let mut depth = 0;
                let mut word = String::new();
                let mut at_item_start = true;
                for c in group.chars() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => break,
                        '}' => depth -= 1,
                        ',' if depth == 0 => at_item_start = true,
                        c if (c.is_alphanumeric() || c == '_') && at_item_start && depth == 0 => {
                            word.push(c)
                        }
                        _ => {
                            if !word.is_empty() {
                                out.push((std::mem::take(&mut word), n + 1));
                            }
                            if !c.is_whitespace() {
                                at_item_start = false;
                            }
                        }
                    }
                }
            } else {
                let word: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !word.is_empty() {
                    out.push((word, n + 1));
                }
            }
        }
    }
    out
}

fn top_module(src_dir: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src_dir).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    if first == "lib.rs" {
        return None;
    }
    Some(first.trim_end_matches(".rs").to_owned())
}

#[test]
fn comment_and_string_stripping_keeps_only_code() {
    let src = "use crate::a::X; // crate::b\n/* crate::c */ let s = \"crate::d\"; let c = '\"';\nlet r = r#\"crate::e\"#; crate::{f::Y, g, h::{i, j}};\n";
    let uses: Vec<String> = crate_uses(&code_only(src))
        .into_iter()
        .map(|(m, _)| m)
        .collect();
    assert_eq!(uses, ["a", "f", "g", "h"]);
}

#[test]
fn no_module_uses_a_higher_layer() {
    let src_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src_dir, &mut files);
    let declared: BTreeSet<String> = files
        .iter()
        .filter_map(|f| top_module(&src_dir, f))
        .collect();
    for m in &declared {
        assert!(
            layer_of(m).is_some(),
            "module `{m}` is in no layer: add it to LAYERS here and to the table in src/lib.rs"
        );
    }
    let mut edges: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for f in &files {
        let Some(from) = top_module(&src_dir, f) else {
            continue;
        };
        let code = code_only(&std::fs::read_to_string(f).unwrap());
        for (to, line) in crate_uses(&code) {
            if to == from || !declared.contains(&to) {
                continue;
            }
            let at = format!("{}:{line}", f.strip_prefix(&src_dir).unwrap().display());
            edges.entry((from.clone(), to)).or_default().push(at);
        }
    }
    let upward: Vec<String> = edges
        .iter()
        .filter(|((from, to), _)| layer_of(to) > layer_of(from))
        .map(|((from, to), at)| format!("{from} -> {to} ({})", at.join(", ")))
        .collect();
    assert!(
        upward.is_empty(),
        "lower layers use higher ones:\n{}",
        upward.join("\n")
    );
    // Within a layer, modules must not use each other in a cycle either.
    let graph: BTreeMap<&str, Vec<&str>> = declared
        .iter()
        .map(|m| {
            let to = edges
                .keys()
                .filter(|(from, _)| from == m)
                .map(|(_, to)| to.as_str())
                .collect();
            (m.as_str(), to)
        })
        .collect();
    if let Some(cycle) = find_cycle(&graph) {
        panic!("modules use each other in a cycle: {}", cycle.join(" -> "));
    }
}

/// A cycle of the graph, if it has one (depth-first search with colours).
fn find_cycle<'a>(graph: &BTreeMap<&'a str, Vec<&'a str>>) -> Option<Vec<&'a str>> {
    fn visit<'a>(
        n: &'a str,
        graph: &BTreeMap<&'a str, Vec<&'a str>>,
        done: &mut BTreeSet<&'a str>,
        stack: &mut Vec<&'a str>,
    ) -> Option<Vec<&'a str>> {
        if let Some(at) = stack.iter().position(|s| *s == n) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(n);
            return Some(cycle);
        }
        if done.contains(n) {
            return None;
        }
        stack.push(n);
        for next in graph.get(n).into_iter().flatten() {
            if let Some(c) = visit(next, graph, done, stack) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(n);
        None
    }
    let mut done = BTreeSet::new();
    for n in graph.keys() {
        if let Some(c) = visit(n, graph, &mut done, &mut Vec::new()) {
            return Some(c);
        }
    }
    None
}

#[test]
fn a_cycle_is_found() {
    let g: BTreeMap<&str, Vec<&str>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec![]),
    ]
    .into_iter()
    .collect();
    assert_eq!(find_cycle(&g), Some(vec!["a", "b", "c", "a"]));
    let dag: BTreeMap<&str, Vec<&str>> = [("a", vec!["b", "c"]), ("b", vec!["c"]), ("c", vec![])]
        .into_iter()
        .collect();
    assert_eq!(find_cycle(&dag), None);
}
