//! Blocking queries for the in-memory servers: wait until the watched index passes the
//! caller's, or the wait runs out.

use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

use super::{BackendResult, Indexed, QueryOptions, Service};

/// Locks, recovering the data if a holder panicked (every write leaves the state whole).
pub(crate) fn lock<S>(m: &Mutex<S>) -> MutexGuard<'_, S> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Change notifications of one in-memory server.
#[derive(Debug)]
pub(crate) struct Changes {
    tx: watch::Sender<u64>,
}

impl Changes {
    pub(crate) fn new() -> Self {
        Changes {
            tx: watch::channel(0).0,
        }
    }

    /// Wakes every blocked query (call with the state lock held, after the change).
    pub(crate) fn bump(&self) {
        self.tx.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// Runs `read` (which returns the index of what it read and the result) until the index
    /// is greater than `q.index` or `q`'s wait runs out, then returns the last result.
    ///
    /// As in both servers, an index of 0 (or none) does not block (hashicorp/nomad
    /// `nomad/rpc.go` `blockingRPC`; hashicorp/consul `agent/consul/rpc.go` `blockingQuery`).
    /// Consul answers 1 for an index of 0 (`agent/http.go` `setIndex`); Nomad answers 0.
    pub(crate) async fn block<S, T>(
        &self,
        state: &Mutex<S>,
        q: &QueryOptions,
        service: Service,
        read: impl Fn(&S) -> (u64, BackendResult<T>),
    ) -> BackendResult<Indexed<T>> {
        let deadline = q
            .is_blocking()
            .then(|| tokio::time::Instant::now() + q.effective_wait(service));
        loop {
            let mut rx = {
                let s = lock(state);
                let (index, value) = read(&s);
                let index = if service == Service::Nomad {
                    index
                } else {
                    index.max(1)
                };
                let done = match (q.index, deadline) {
                    (Some(min), Some(deadline)) => {
                        index > min || tokio::time::Instant::now() >= deadline
                    }
                    _ => true,
                };
                if done {
                    return value.map(|v| Indexed::new(index, v));
                }
                self.tx.subscribe()
            };
            if let Some(deadline) = deadline {
                // Either a change or the deadline: both re-run the read.
                let _ = tokio::time::timeout_at(deadline, rx.changed()).await;
            }
        }
    }
}

/// Nanoseconds since the Unix epoch.
pub(crate) fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// A random identifier in UUID form.
pub(crate) fn new_id() -> String {
    use rand::Rng;
    let mut r = rand::rng();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        r.random::<u32>(),
        r.random::<u16>(),
        r.random::<u16>() & 0x0fff,
        (r.random::<u16>() & 0x3fff) | 0x8000,
        r.random::<u64>() & 0xffff_ffff_ffff
    )
}

/// RFC 3339 UTC time of now (second precision).
pub(crate) fn now_rfc3339() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}
