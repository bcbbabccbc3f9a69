//! Filesystem functions: go-cty-funcs `filesystem/filesystem.go` (`file`, `filebase64`,
//! `fileexists`, `fileset` over bmatcuk/doublestar, `abspath`, `basename`, `dirname`,
//! `pathexpand` over mitchellh/go-homedir). Only called when the caller allows filesystem
//! functions ([`super::FunctionEnv::base_dir`] set).
//!
//! Paths: `~` and `~/...` expand to `$HOME`; a relative path is joined to the base folder
//! and cleaned lexically (Go's `filepath.Clean`). `abspath` also resolves against the base
//! folder (Nomad resolves against the process's working directory, which a library embedded
//! in another program does not control). Reads are bounded by the value size limit, and
//! `fileset` visits at most [`FILESET_MAX_ENTRIES`] directory entries.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;

use super::value::{make_set, Ty, Val};
use super::{s, Ctx, Fail, Res};

/// How many directory entries one `fileset` call may visit.
pub(super) const FILESET_MAX_ENTRIES: usize = 100_000;

/// go-homedir's `Expand`: `~` or `~/rest` becomes the home folder.
fn expand_home(path: &str) -> Result<String, String> {
    let Some(rest) = path.strip_prefix('~') else {
        return Ok(path.to_string());
    };
    if !rest.is_empty() && !rest.starts_with('/') && !rest.starts_with('\\') {
        return Err("cannot expand user-specific home dir".into());
    }
    let home = std::env::var("HOME")
        .ok()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| "HOME is not set".to_string())?;
    Ok(clean(&format!("{home}/{rest}")))
}

/// Go's `filepath.Clean` for `/`-separated paths.
pub(super) fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

fn join(base: &Path, path: &str) -> String {
    if path.starts_with('/') {
        clean(path)
    } else {
        clean(&format!("{}/{path}", base.to_string_lossy()))
    }
}

/// Reads at most `limit + 1` bytes (so a device that never ends cannot exhaust memory).
fn read_bounded(base: &Path, path: &str, limit: usize) -> Result<Vec<u8>, Fail> {
    let expanded = expand_home(path).map_err(|e| Fail::msg(format!("failed to expand ~: {e}")))?;
    let full = join(base, &expanded);
    let file = std::fs::File::open(&full).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Fail::msg(format!("no file exists at {full}"))
        } else {
            Fail::msg(format!("failed to read {full}"))
        }
    })?;
    let mut buf = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    file.take(cap)
        .read_to_end(&mut buf)
        .map_err(|_| Fail::msg(format!("failed to read {full}")))?;
    if buf.len() > limit {
        return Err(Fail::TooLarge);
    }
    Ok(buf)
}

pub(super) fn file(args: Vec<Val>, ctx: &Ctx<'_>) -> Res {
    let path = s(&args[0]);
    let bytes = read_bounded(ctx.base_dir()?, path, ctx.limit())?;
    String::from_utf8(bytes).map(Val::str).map_err(|_| {
        Fail::msg(format!(
            "contents of {path} are not valid UTF-8; use the filebase64 function to obtain the Base64 encoded contents or the other file functions (e.g. filemd5, filesha256) to obtain file hashing results instead"
        ))
    })
}

pub(super) fn filebase64(args: Vec<Val>, ctx: &Ctx<'_>) -> Res {
    let raw_limit = ctx.limit() / 4 * 3;
    let bytes = read_bounded(ctx.base_dir()?, s(&args[0]), raw_limit)?;
    Ok(Val::str(
        base64::engine::general_purpose::STANDARD.encode(bytes),
    ))
}

pub(super) fn fileexists(args: Vec<Val>, ctx: &Ctx<'_>) -> Res {
    let expanded =
        expand_home(s(&args[0])).map_err(|e| Fail::msg(format!("failed to expand ~: {e}")))?;
    let full = join(ctx.base_dir()?, &expanded);
    match std::fs::metadata(&full) {
        Ok(m) if m.is_file() => Ok(Val::Bool(true)),
        Ok(m) => Err(Fail::msg(format!(
            "{full} is not a regular file, but {:?}",
            if m.is_dir() { "d" } else { "other" }
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Val::Bool(false)),
        Err(_) => Err(Fail::msg(format!("failed to stat {full}"))),
    }
}

fn has_meta(part: &str) -> bool {
    part.contains(['*', '?', '[', '{', '\\'])
}

/// `fileset(path, pattern)`: regular files under `path` matching the doublestar `pattern`
/// (`*`, `?`, `[...]`, `{a,b}`, `**` for any number of folders), as paths relative to
/// `path` with `/` separators, in set order.
pub(super) fn fileset(args: Vec<Val>, ctx: &Ctx<'_>) -> Res {
    let root = join(ctx.base_dir()?, s(&args[0]));
    let pattern = clean(&format!("{root}/{}", s(&args[1])));
    // The static folder the walk starts from, and the pattern below it.
    let parts: Vec<&str> = pattern.split('/').collect();
    let first_meta = parts
        .iter()
        .position(|p| has_meta(p))
        .unwrap_or(parts.len());
    let walk_root = if first_meta == 0 {
        ".".to_string()
    } else {
        let j = parts[..first_meta].join("/");
        if j.is_empty() {
            "/".to_string()
        } else {
            j
        }
    };
    let rest = parts[first_meta..].join("/");
    let matcher = if rest.is_empty() {
        None
    } else {
        Some(
            globset::GlobBuilder::new(&rest)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .map_err(|e| Fail::msg(format!("failed to glob pattern ({pattern}): {e}")))?
                .compile_matcher(),
        )
    };
    let mut found = Vec::new();
    let mut size = 0usize;
    let mut consider = |full: &Path| -> Result<(), Fail> {
        let Ok(meta) = std::fs::metadata(full) else {
            return Err(Fail::msg(format!("failed to stat ({})", full.display())));
        };
        if !meta.is_file() {
            return Ok(());
        }
        let rel = relative(&root, &clean(&full.to_string_lossy()));
        size = size.saturating_add(rel.len());
        ctx.check(size)?;
        found.push(Val::str(rel));
        Ok(())
    };
    match matcher {
        None => {
            // No pattern characters: the path itself, if it is a file.
            let p = PathBuf::from(&pattern);
            if p.exists() {
                consider(&p)?;
            }
        }
        Some(m) => {
            let depth = if rest.contains("**") {
                usize::MAX
            } else {
                rest.split('/').count()
            };
            let mut visited = 0usize;
            for entry in walkdir::WalkDir::new(&walk_root)
                .min_depth(1)
                .max_depth(depth)
                .follow_links(false)
            {
                visited += 1;
                if visited > FILESET_MAX_ENTRIES {
                    return Err(Fail::msg(format!(
                        "more than {FILESET_MAX_ENTRIES} entries under {walk_root}; use a narrower pattern"
                    )));
                }
                let Ok(entry) = entry else { continue };
                let Ok(rel) = entry.path().strip_prefix(&walk_root) else {
                    continue;
                };
                if m.is_match(rel) {
                    consider(entry.path())?;
                }
            }
        }
    }
    Ok(make_set(Ty::Str, found))
}

/// Go's `filepath.Rel` for two clean absolute paths.
fn relative(base: &str, target: &str) -> String {
    let b: Vec<&str> = base.split('/').filter(|p| !p.is_empty()).collect();
    let t: Vec<&str> = target.split('/').filter(|p| !p.is_empty()).collect();
    let common = b.iter().zip(&t).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<&str> = vec![".."; b.len() - common];
    parts.extend(&t[common..]);
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

/// Go's `filepath.Base`.
fn base_name(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/".into();
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed).to_string()
}

/// Go's `filepath.Dir`.
fn dir_name(path: &str) -> String {
    let dir = match path.rfind('/') {
        Some(i) => &path[..=i],
        None => "",
    };
    clean(dir)
}

pub(super) fn basename(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    Ok(Val::str(base_name(s(&args[0]))))
}

pub(super) fn dirname(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    Ok(Val::str(dir_name(s(&args[0]))))
}

pub(super) fn abspath(args: Vec<Val>, ctx: &Ctx<'_>) -> Res {
    let base = ctx.base_dir()?;
    let base = if base.is_absolute() {
        base.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| Fail::msg(format!("cannot find the working directory: {e}")))?
            .join(base)
    };
    Ok(Val::str(join(&base, s(&args[0]))))
}

pub(super) fn pathexpand(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    expand_home(s(&args[0]))
        .map(|p| {
            // go-homedir joins without cleaning the rest beyond filepath.Join.
            Val::str(p)
        })
        .map_err(Fail::Msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_base_dir_follow_go() {
        assert_eq!(clean("a//b/./c/.."), "a/b");
        assert_eq!(clean("/../x"), "/x");
        assert_eq!(clean("../../x"), "../../x");
        assert_eq!(clean(""), ".");
        assert_eq!(base_name("/a/b/"), "b");
        assert_eq!(base_name("///"), "/");
        assert_eq!(base_name(""), ".");
        assert_eq!(dir_name("/a/b"), "/a");
        assert_eq!(dir_name("b"), ".");
        assert_eq!(dir_name("/"), "/");
    }
}
