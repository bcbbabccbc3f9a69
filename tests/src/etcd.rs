//! Real etcd servers for tests: spawned on free loopback ports with a temporary data
//! directory, killed when dropped, restartable on the same data directory.
//!
//! ```no_run
//! use istio_nomad_tests::etcd::{etcd_binary_or_skip, EtcdMember};
//! let Some(bin) = etcd_binary_or_skip("my_test") else { return };
//! let etcd = EtcdMember::start_single(&bin, &[]).unwrap();
//! println!("etcd at {}", etcd.client_url());
//! ```

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `etcd` binary: `$ETCD_BIN`, else `etcd` on `PATH`.
pub fn etcd_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ETCD_BIN") {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("etcd"))
        .find(|p| p.is_file())
}

/// The `etcd` binary, or `None` after printing why the test is skipped. With `CI=true` a
/// missing binary fails the test instead.
pub fn etcd_binary_or_skip(test: &str) -> Option<PathBuf> {
    match etcd_binary() {
        Some(p) => Some(p),
        None if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{test}: etcd is not installed (CI=true requires it; install the etcd-server package)")
        }
        None => {
            eprintln!("skipped {test}: etcd not installed (install the etcd-server package or set ETCD_BIN)");
            None
        }
    }
}

/// A TCP port on 127.0.0.1 for a server ([`crate::ports::loopback_port`]).
pub fn free_port() -> io::Result<u16> {
    crate::ports::loopback_port()
}

/// One etcd process. Killed (and reaped) on drop.
#[derive(Debug)]
pub struct EtcdMember {
    binary: PathBuf,
    args: Vec<String>,
    client_url: String,
    log: PathBuf,
    child: Option<Child>,
    _dir: Option<tempfile::TempDir>,
}

impl EtcdMember {
    /// A single-member cluster on free loopback ports with a fresh data directory, started
    /// and healthy. `extra` arguments are appended (e.g. `--auth-token-ttl=1`).
    pub fn start_single(binary: &Path, extra: &[&str]) -> io::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("istio-nomad-etcd-")
            .tempdir()?;
        let client = format!("http://127.0.0.1:{}", free_port()?);
        let peer = format!("http://127.0.0.1:{}", free_port()?);
        let mut args = vec![
            "--name=test".to_owned(),
            format!("--data-dir={}", dir.path().join("data").display()),
            format!("--listen-client-urls={client}"),
            format!("--advertise-client-urls={client}"),
            format!("--listen-peer-urls={peer}"),
            format!("--initial-advertise-peer-urls={peer}"),
            format!("--initial-cluster=test={peer}"),
            "--initial-cluster-state=new".to_owned(),
            "--initial-cluster-token=istio-nomad-test".to_owned(),
            "--log-level=warn".to_owned(),
            "--logger=zap".to_owned(),
        ];
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        let log = dir.path().join("etcd.log");
        let mut m = Self::spawn(binary, args, client, log)?;
        m._dir = Some(dir);
        m.wait_ready(Duration::from_secs(20))?;
        Ok(m)
    }

    /// Starts `binary` with exactly `args` (for members of a multi-member cluster, whose
    /// arguments come from elsewhere). `client_url` is where [`EtcdMember::wait_ready`]
    /// looks for `/health`; output goes to `log`. Does not wait for readiness: members of a
    /// new cluster only become healthy once a quorum is up.
    pub fn spawn(
        binary: &Path,
        args: Vec<String>,
        client_url: String,
        log: PathBuf,
    ) -> io::Result<Self> {
        let mut m = EtcdMember {
            binary: binary.to_owned(),
            args,
            client_url,
            log,
            child: None,
            _dir: None,
        };
        m.launch()?;
        Ok(m)
    }

    fn launch(&mut self) -> io::Result<()> {
        let out = File::options().create(true).append(true).open(&self.log)?;
        let err = out.try_clone()?;
        let child = Command::new(&self.binary)
            .args(&self.args)
            .env_remove("ETCDCTL_ENDPOINTS")
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()?;
        self.child = Some(child);
        Ok(())
    }

    /// The client URL (`http://127.0.0.1:PORT`).
    pub fn client_url(&self) -> &str {
        &self.client_url
    }

    /// The command-line arguments.
    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// The process ID while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Waits until `GET /health` answers `"health":"true"`, or fails with the log's tail.
    pub fn wait_ready(&mut self, timeout: Duration) -> io::Result<()> {
        let deadline = Instant::now() + timeout;
        let hostport = self.client_url.trim_start_matches("http://").to_owned();
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    self.child = None;
                    return Err(io::Error::other(format!(
                        "etcd exited with {status}:\n{}",
                        self.log_tail()
                    )));
                }
            }
            if health(&hostport).unwrap_or(false) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "etcd at {} not healthy after {timeout:?}:\n{}",
                        self.client_url,
                        self.log_tail()
                    ),
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the process (SIGKILL) and reaps it. The data directory stays.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the process again with the same arguments and data directory, and waits
    /// until it is healthy.
    pub fn restart(&mut self) -> io::Result<()> {
        self.kill();
        self.launch()?;
        self.wait_ready(Duration::from_secs(20))
    }

    /// The last 4 KB of the process's output.
    pub fn log_tail(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = File::open(&self.log) {
            let _ = f.read_to_string(&mut s);
        }
        let start = s.len().saturating_sub(4096);
        let start = (start..s.len())
            .find(|i| s.is_char_boundary(*i))
            .unwrap_or(s.len());
        s[start..].to_owned()
    }
}

impl Drop for EtcdMember {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One `GET /health` over a plain TCP connection.
fn health(hostport: &str) -> io::Result<bool> {
    let mut s = TcpStream::connect(hostport)?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    write!(s, "GET /health HTTP/1.0\r\nHost: {hostport}\r\n\r\n")?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)?;
    let ok = resp.starts_with("HTTP/1.0 200") || resp.starts_with("HTTP/1.1 200");
    Ok(ok && resp.contains("\"health\":\"true\""))
}
