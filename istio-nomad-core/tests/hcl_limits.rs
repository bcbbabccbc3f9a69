//! Inputs that once made the HCL reader use gigabytes or run for minutes are refused with a
//! typed error, using little memory: this test binary counts every allocation and checks the
//! peak while each input is read.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use istio_nomad_core::error::{Limit, ParseErrorKind};
use istio_nomad_core::nomad::hcl::jobspec_to_api;

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator and only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Reads `text` and returns the error kind, local/attribute path and the peak of memory
/// allocated above what was in use before. Each input must be refused within a second (they
/// once ran for minutes; here they take well under 0.3 s even in a debug build).
fn refuse(text: &str) -> (ParseErrorKind, Option<String>, usize) {
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let start = std::time::Instant::now();
    let err = jobspec_to_api(text).expect_err("the input must be refused");
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    let elapsed = start.elapsed();
    assert!(
        elapsed < std::time::Duration::from_secs(1),
        "took {elapsed:?}"
    );
    eprintln!(
        "{}: {:?} after {:?}, peak {} KiB",
        err.path.as_deref().unwrap_or("-"),
        err.kind,
        elapsed,
        peak / 1024
    );
    (err.kind, err.path, peak)
}

const MB: usize = 1 << 20;

#[test]
fn doubling_and_long_local_chains_are_refused_quickly_and_in_little_memory() {
    // 30 locals, each the previous one twice: 2^30 copies of a 32-byte string.
    let mut text = String::from("locals {\n  a0 = \"0123456789abcdef0123456789abcdef\"\n");
    for i in 1..=30 {
        text.push_str(&format!(
            "  a{i} = \"${{local.a{p}}}${{local.a{p}}}\"\n",
            p = i - 1
        ));
    }
    text.push_str("}\njob \"x\" {\n  meta { big = local.a30 }\n}\n");
    assert!(text.len() < 1200, "{}", text.len());
    let (kind, path, peak) = refuse(&text);
    assert_eq!(kind, ParseErrorKind::Limit(Limit::ValueSize));
    assert_eq!(path.as_deref(), Some("locals.a17"));
    assert!(peak < 100 * MB, "peak {peak} bytes");

    // The same with lists.
    let mut text = String::from("locals {\n  b0 = [\"0123456789abcdef\"]\n");
    for i in 1..=30 {
        text.push_str(&format!(
            "  b{i} = concat(local.b{p}, local.b{p})\n",
            p = i - 1
        ));
    }
    text.push_str("}\njob \"x\" {}\n");
    let (kind, path, peak) = refuse(&text);
    assert_eq!(kind, ParseErrorKind::Limit(Limit::ValueSize));
    assert!(
        path.as_deref().is_some_and(|p| p.starts_with("locals.b")),
        "{path:?}"
    );
    assert!(peak < 100 * MB, "peak {peak} bytes");

    // 3,000 locals, each naming the next, written so that every one uses a later one.
    let mut text = String::from("locals {\n");
    for i in 0..3000 {
        text.push_str(&format!("  l{i} = local.l{}\n", i + 1));
    }
    text.push_str("  l3000 = \"end\"\n}\njob \"x\" {}\n");
    let (kind, path, peak) = refuse(&text);
    assert_eq!(kind, ParseErrorKind::Limit(Limit::LocalsDepth));
    assert_eq!(path.as_deref(), Some("locals.l2900"));
    assert!(peak < 100 * MB, "peak {peak} bytes");

    // Many copies of one large value hit the limit on all values together.
    let mut text = String::from("locals {\n  big = join(\"\", [for i in range(1000) : \"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"])\n");
    for i in 0..2000 {
        text.push_str(&format!("  c{i} = local.big\n"));
    }
    text.push_str("}\njob \"x\" {}\n");
    let (kind, _, peak) = refuse(&text);
    assert_eq!(kind, ParseErrorKind::Limit(Limit::TotalBytes));
    assert!(peak < 100 * MB, "peak {peak} bytes");

    // Nested loops: each pass builds its collection again, which the total counts.
    let text = "locals {\n  x = \"%{ for i in range(1024) }%{ for j in range(1024) }%{ endfor }%{ endfor }\"\n}\njob \"x\" {}\n";
    let (kind, path, peak) = refuse(text);
    assert_eq!(kind, ParseErrorKind::Limit(Limit::TotalBytes));
    assert_eq!(path.as_deref(), Some("locals.x"));
    assert!(peak < 100 * MB, "peak {peak} bytes");

    // A chain within the limit reads, in any order.
    let mut text = String::from("locals {\n");
    for i in 0..99 {
        text.push_str(&format!("  l{i} = \"${{local.l{}}}.\"\n", i + 1));
    }
    text.push_str("  l99 = \"end\"\n}\njob \"x\" {\n  meta { chain = local.l0 }\n}\n");
    let api = jobspec_to_api(&text).unwrap();
    assert_eq!(
        api["Meta"]["chain"],
        format!("end{}", ".".repeat(99)).as_str()
    );
}
