//! The committed header `include/istio_nomad.h` must be what cbindgen generates from the
//! current source. `UPDATE_GOLDEN=1 cargo test -p istio-nomad-ffi --test header` rewrites it.
#![allow(clippy::unwrap_used)]

use std::path::Path;

/// Generates the header in memory, with the version macros taken from Cargo.toml.
fn generate() -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let version = env!("CARGO_PKG_VERSION");
    let mut parts = version.split(['.', '-', '+']);
    let mut next = || parts.next().unwrap_or("0").to_string();
    let (major, minor, patch) = (next(), next(), next());
    let mut config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).unwrap();
    config.after_includes = Some(format!(
        "\n/** The version of this header (the crate version in Cargo.toml). */\n\
         #define ISTIO_NOMAD_VERSION \"{version}\"\n\
         #define ISTIO_NOMAD_VERSION_MAJOR {major}\n\
         #define ISTIO_NOMAD_VERSION_MINOR {minor}\n\
         #define ISTIO_NOMAD_VERSION_PATCH {patch}\n\
         /** The version as one comparable number: major * 10000 + minor * 100 + patch. */\n\
         #define ISTIO_NOMAD_VERSION_NUMBER ({major} * 10000 + {minor} * 100 + {patch})"
    ));
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(dir.join("src/lib.rs"))
        .generate()
        .unwrap();
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).unwrap()
}

#[test]
fn committed_header_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("include/istio_nomad.h");
    let fresh = generate();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &fresh).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "{} is out of date: run `UPDATE_GOLDEN=1 cargo test -p istio-nomad-ffi --test header` \
         and commit the result",
        path.display()
    );
}

#[test]
fn header_declares_every_exported_function() {
    let header = generate();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in text.lines() {
            if let Some(rest) = line.trim().strip_prefix("pub unsafe extern \"C\" fn ") {
                names.push(rest.split('(').next().unwrap().to_string());
            } else if let Some(rest) = line.trim().strip_prefix("pub extern \"C\" fn ") {
                names.push(rest.split('(').next().unwrap().to_string());
            }
        }
    }
    assert!(names.len() >= 12, "found only {names:?}");
    for n in names {
        assert!(n.starts_with("istio_nomad_"), "{n} lacks the prefix");
        assert!(
            header.contains(&format!("{n}(")),
            "{n} missing from the header"
        );
    }
    let version = env!("CARGO_PKG_VERSION");
    assert!(header.contains(&format!("#define ISTIO_NOMAD_VERSION \"{version}\"")));
}
