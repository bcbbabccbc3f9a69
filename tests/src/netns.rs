//! Throwaway network namespaces for tests that need real netfilter and real TCP.
//!
//! Every [`Netns`] has a unique name and is deleted when dropped. Tests call
//! [`require_netns`] first: without root or `ip netns` the test fails when `CI=true` and
//! otherwise prints why it is skipped.

use std::io::{Read, Write};
use std::net::{SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Why namespaces cannot be used here, or `None` when they can (checked once per process).
pub fn netns_unavailable() -> Option<String> {
    static RESULT: OnceLock<Option<String>> = OnceLock::new();
    RESULT.get_or_init(probe_netns).clone()
}

fn probe_netns() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not running as root".into());
    }
    let probe = format!(
        "inm-probe-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    match Command::new("ip").args(["netns", "add", &probe]).output() {
        Ok(o) if o.status.success() => {
            let _ = Command::new("ip").args(["netns", "del", &probe]).output();
            None
        }
        Ok(o) => Some(format!(
            "`ip netns add` failed: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Some(format!("cannot run `ip`: {e}")),
    }
}

/// True when the test can go on. When namespaces are unusable: panics if `CI=true`, else
/// prints "skipped: ..." and returns false.
pub fn require_netns(test: &str) -> bool {
    match netns_unavailable() {
        None => true,
        Some(why) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{test}: network namespaces are required in CI: {why}")
        }
        Some(why) => {
            eprintln!("skipped: {test}: {why}");
            false
        }
    }
}

fn run(cmd: &mut Command) -> Result<Output, String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A network namespace that is deleted on drop; its loopback interface is up.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates `<prefix>-<pid>-<n>` (prefix at most 20 characters).
    pub fn new(prefix: &str) -> Result<Netns, String> {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("{prefix}-{}-{n}", std::process::id());
        run(Command::new("ip").args(["netns", "add", &name]))?;
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `ip -n NAME args`; returns stdout.
    pub fn ip(&self, args: &[&str]) -> Result<String, String> {
        let out = run(Command::new("ip").args(["-n", &self.name]).args(args))?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Runs `program args` inside the namespace (`ip netns exec`); returns the output,
    /// whatever the exit status.
    pub fn exec(&self, program: &str, args: &[&str]) -> Result<Output, String> {
        Command::new("ip")
            .args(["netns", "exec", &self.name, program])
            .args(args)
            .output()
            .map_err(|e| format!("ip netns exec {} {program}: {e}", self.name))
    }

    /// Runs `program args` inside the namespace and fails unless it succeeds; returns stdout.
    pub fn exec_ok(&self, program: &str, args: &[&str]) -> Result<String, String> {
        let out = self.exec(program, args)?;
        if !out.status.success() {
            return Err(format!(
                "{program} {args:?} in {} failed: {}",
                self.name,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Runs `f` on a thread that entered the namespace. Sockets created there stay in the
    /// namespace and may be used from any thread afterwards.
    pub fn run_in<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, String> {
        let path = format!("/run/netns/{}", self.name);
        let file = std::fs::File::open(&path).map_err(|e| format!("{path}: {e}"))?;
        std::thread::spawn(move || {
            // SAFETY: setns on a valid namespace fd only changes this thread's namespace.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            if rc != 0 {
                return Err(format!("setns: {}", std::io::Error::last_os_error()));
            }
            Ok(f())
        })
        .join()
        .map_err(|_| "thread entering the namespace panicked".to_string())?
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// Connects namespace `a` (interface `a_if`, address `a_addr` like `10.200.1.1/24`) and `b`
/// with a veth pair, both ends up.
pub fn veth_pair(
    a: &Netns,
    a_if: &str,
    a_addr: &str,
    b: &Netns,
    b_if: &str,
    b_addr: &str,
) -> Result<(), String> {
    run(Command::new("ip").args([
        "link",
        "add",
        a_if,
        "netns",
        a.name(),
        "type",
        "veth",
        "peer",
        "name",
        b_if,
        "netns",
        b.name(),
    ]))?;
    a.ip(&["addr", "add", a_addr, "dev", a_if])?;
    b.ip(&["addr", "add", b_addr, "dev", b_if])?;
    a.ip(&["link", "set", a_if, "up"])?;
    b.ip(&["link", "set", b_if, "up"])?;
    Ok(())
}

/// The destination a connection had before NAT (`SO_ORIGINAL_DST`), IPv4 only.
pub fn original_dst(stream: &TcpStream) -> Option<SocketAddrV4> {
    const SO_ORIGINAL_DST: libc::c_int = 80;
    // SAFETY: sockaddr_in is plain old data; getsockopt writes at most `len` bytes into it.
    unsafe {
        let mut addr: libc::sockaddr_in = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        let rc = libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_IP,
            SO_ORIGINAL_DST,
            (&mut addr as *mut libc::sockaddr_in).cast(),
            &mut len,
        );
        if rc != 0 {
            return None;
        }
        let ip = std::net::Ipv4Addr::from(u32::from_be(addr.sin_addr.s_addr));
        Some(SocketAddrV4::new(ip, u16::from_be(addr.sin_port)))
    }
}

/// A TCP listener on `0.0.0.0:port` with `IP_TRANSPARENT` set (needed to receive TPROXY'd
/// connections). Call inside [`Netns::run_in`].
pub fn transparent_listener(port: u16) -> std::io::Result<TcpListener> {
    // SAFETY: plain socket calls on a descriptor we own; it is closed on every error path.
    unsafe {
        let fd: RawFd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let listener = TcpListener::from_raw_fd(fd);
        let one: libc::c_int = 1;
        for (level, opt) in [
            (libc::SOL_SOCKET, libc::SO_REUSEADDR),
            (libc::SOL_IP, libc::IP_TRANSPARENT),
        ] {
            let rc = libc::setsockopt(
                fd,
                level,
                opt,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
            if rc != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        let addr = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: port.to_be(),
            sin_addr: libc::in_addr { s_addr: 0 },
            sin_zero: [0; 8],
        };
        if libc::bind(
            fd,
            (&addr as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        ) != 0
            || libc::listen(fd, 64) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
        Ok(listener)
    }
}

/// A listener answering every connection with one line,
/// `<label> orig=<SO_ORIGINAL_DST or -> local=<local address>`, then closing it.
#[derive(Debug)]
pub struct Responder {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Responder {
    /// Serves `listener` on a background thread.
    pub fn start(listener: TcpListener, label: &str) -> std::io::Result<Responder> {
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let label = label.to_string();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut s, _)) => {
                        let _ = s.set_nonblocking(false);
                        let orig = original_dst(&s).map_or("-".to_string(), |a| a.to_string());
                        let local = s.local_addr().map_or("-".to_string(), |a| a.to_string());
                        let _ = writeln!(s, "{label} orig={orig} local={local}");
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Ok(Responder {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Binds `0.0.0.0:port` inside `ns` and answers with `label` (see [`Responder`]).
pub fn respond_in(ns: &Netns, port: u16, label: &str) -> Result<Responder, String> {
    let listener = ns
        .run_in(move || TcpListener::bind(("0.0.0.0", port)))?
        .map_err(|e| format!("bind {port} in {}: {e}", ns.name()))?;
    Responder::start(listener, label).map_err(|e| e.to_string())
}

/// Connects to `addr` from inside `ns` as root and returns the line the server sent.
pub fn connect_in(ns: &Netns, addr: SocketAddr) -> Result<String, String> {
    ns.run_in(move || read_line_from(addr))?
}

/// Connects, reads until EOF (3 s timeout), returns the text trimmed.
pub fn read_line_from(addr: SocketAddr) -> Result<String, String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(3))
        .map_err(|e| format!("connect {addr}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(3)))
        .map_err(|e| e.to_string())?;
    let mut out = String::new();
    s.read_to_string(&mut out)
        .map_err(|e| format!("read from {addr}: {e}"))?;
    Ok(out.trim().to_string())
}

/// Connects to `addr` from inside `ns` as `uid`/`gid` (no supplementary groups), through
/// `setpriv` and the `probe` program (`netns-probe connect ADDR`); returns its output.
pub fn connect_as(
    ns: &Netns,
    probe: &str,
    uid: u32,
    gid: u32,
    addr: SocketAddr,
) -> Result<String, String> {
    let out = ns.exec(
        "setpriv",
        &[
            &format!("--reuid={uid}"),
            &format!("--regid={gid}"),
            "--clear-groups",
            probe,
            "connect",
            &addr.to_string(),
        ],
    )?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}
