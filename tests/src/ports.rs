//! Loopback ports for the servers the tests start (etcd members).
//!
//! A port found by binding port 0 comes from the kernel's ephemeral range
//! (`net.ipv4.ip_local_port_range`), the same range the kernel draws from for the local end of
//! every outgoing connection. Once released, it can be taken by a client connection (an etcd
//! member dialing a peer, a test's HTTP client) before the server that was meant to have it
//! binds, and that server then fails with "address already in use". So the ports here come
//! from below the ephemeral range, which the kernel never hands out on its own, each one
//! checked free by binding it, and never the same one twice in a test process.

use std::net::TcpListener;
use std::sync::atomic::{AtomicU32, Ordering};

/// Lowest port handed out.
const FIRST: u32 = 10_000;

/// The next candidate, shared by every thread of the test process. Test binaries run one
/// after another, but each starts at a different place (its process id) so that a server
/// left running by an earlier binary is unlikely to be met.
static NEXT: AtomicU32 = AtomicU32::new(0);

/// The kernel's ephemeral range (`/proc/sys/net/ipv4/ip_local_port_range`), or Linux's
/// default 32768-60999 when it cannot be read.
fn ephemeral_start() -> u32 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|t| t.split_whitespace().next().and_then(|s| s.parse().ok()))
        .unwrap_or(32_768)
}

/// A port on 127.0.0.1 outside the ephemeral range that was free when checked and that no
/// other caller in this process has been given.
pub fn loopback_port() -> std::io::Result<u16> {
    let end = ephemeral_start().max(FIRST + 1_000);
    let span = end - FIRST;
    let _ = NEXT.compare_exchange(
        0,
        std::process::id() % span + 1,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    for _ in 0..span {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let port = FIRST + n % span;
        let Ok(port) = u16::try_from(port) else {
            continue;
        };
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AddrInUse,
        format!("no free loopback port in {FIRST}-{end}"),
    ))
}
