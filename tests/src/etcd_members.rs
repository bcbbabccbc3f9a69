//! Runs the etcd members of a rendered etcd job as local processes.
//!
//! A member's Docker task (`command` + `args`) is run with exactly its arguments after one
//! substitution pass that stands in for what Nomad and Consul do at run time on a real node:
//!
//! | in the job | on a Nomad node | here |
//! |---|---|---|
//! | `/usr/local/bin/etcd` (`command`) | the binary in the image | `etcd` found on `PATH` |
//! | `${NOMAD_PORT_client}`, `${NOMAD_PORT_peer}` | the container ports (2379, 2380) | free loopback ports of that member |
//! | `${NOMAD_ALLOC_DIR}` | `/alloc`, the allocation folder | a per-member temporary folder (with its `data` subfolder) |
//! | `etcd-<i>.<mesh>-etcd-peer.service.consul:<peer port>` | Consul DNS of member i's peer service | `127.0.0.1:<member i's peer port>` |
//! | `etcd-<i>.<mesh>-etcd.service.consul:<client port>` | Consul DNS of member i's client service | `127.0.0.1:<member i's client port>` |
//! | `0.0.0.0:2379` (dev profile) | the container's listener published on the host | `127.0.0.1:<client port>` |
//! | `0.0.0.0` | every interface of the container | `127.0.0.1` |
//!
//! The replacements are literal and applied longest key first; [`Substitution::apply`] refuses
//! a result that still holds `${` or `.consul`, so nothing the job relies on goes unmapped.
//! The members are spoken to through etcd's v3 HTTP/JSON gateway over plain TCP.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `etcd` binary on `PATH`. Missing: with `CI=true` this panics (the test must run),
/// otherwise it prints why the test is skipped and returns `None`.
pub fn etcd_binary() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("etcd"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("CI=true but no `etcd` binary is on PATH (install Debian's etcd-server)");
        }
        eprintln!("skipped: no `etcd` binary on PATH (install Debian's etcd-server)");
    }
    found
}

/// A TCP port on 127.0.0.1 for a member ([`crate::ports::loopback_port`]).
pub fn free_port() -> u16 {
    crate::ports::loopback_port().unwrap_or_else(|e| panic!("no free loopback port: {e}"))
}

/// An ordered list of literal replacements standing in for Nomad's and Consul's run-time values.
#[derive(Debug, Clone, Default)]
pub struct Substitution {
    pairs: Vec<(String, String)>,
}

impl Substitution {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a replacement.
    #[must_use]
    pub fn with(mut self, from: impl Into<String>, to: impl Into<String>) -> Self {
        self.pairs.push((from.into(), to.into()));
        self
    }

    /// Replaces every key (longest first) and checks that no `${...}` or Consul name is left.
    pub fn apply(&self, s: &str) -> String {
        let mut pairs = self.pairs.clone();
        pairs.sort_by_key(|p| std::cmp::Reverse(p.0.len()));
        let mut out = s.to_string();
        for (from, to) in &pairs {
            out = out.replace(from.as_str(), to);
        }
        assert!(
            !out.contains("${") && !out.contains(".consul"),
            "unmapped run-time value left in {out:?} (from {s:?})"
        );
        out
    }
}

/// The command and arguments of a Docker task's `Config` in a job's API JSON.
pub fn task_command(task: &Value) -> (String, Vec<String>) {
    let config = &task["Config"];
    let command = config["command"].as_str().unwrap_or_default().to_string();
    let args = config["args"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| x.as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default();
    (command, args)
}

/// One allocation of a job as Nomad would place it: group `group`, index `index` (the
/// allocation is named `<job>.<group>[<index>]`), and its etcd task's command and arguments
/// with `${NOMAD_ALLOC_INDEX}` replaced by the index (hashicorp/nomad v1.11.3
/// `client/taskenv/env.go`: `NOMAD_ALLOC_INDEX` is `Allocation.Index()`, the number in the
/// allocation's name; `scheduler/reconciler` `AllocNameIndex` gives a group's count the
/// indexes `0..count`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocSlot {
    /// Task group name.
    pub group: String,
    /// Allocation index within the group.
    pub index: u64,
    /// `--name` of the member (after substitution), `default` when absent.
    pub member: String,
    /// The task's `command`.
    pub command: String,
    /// The task's arguments, `${NOMAD_ALLOC_INDEX}` replaced.
    pub args: Vec<String>,
}

/// Every allocation of every group of `job` (API JSON), first task of each group, in group
/// then index order.
pub fn alloc_slots(job: &Value) -> Vec<AllocSlot> {
    let mut out = Vec::new();
    for g in job["TaskGroups"].as_array().into_iter().flatten() {
        let count = g["Count"].as_u64().unwrap_or(1);
        let (command, args) = task_command(&g["Tasks"][0]);
        for index in 0..count {
            let args: Vec<String> = args
                .iter()
                .map(|a| a.replace("${NOMAD_ALLOC_INDEX}", &index.to_string()))
                .collect();
            let member = args
                .iter()
                .find_map(|a| a.strip_prefix("--name="))
                .unwrap_or("default")
                .to_string();
            out.push(AllocSlot {
                group: g["Name"].as_str().unwrap_or_default().to_string(),
                index,
                member,
                command: command.clone(),
                args,
            });
        }
    }
    out
}

/// The batches in which Nomad replaces the allocations of `job` when every one of them needs
/// a destructive update, as indexes into [`alloc_slots`]: each group rolls on its own and all
/// groups at once (the reconciler computes every group in the same pass,
/// `scheduler/reconciler/reconcile_cluster.go` `Compute` -> `computeGroup`); within a group,
/// at most `MaxParallel` allocations in name order per step, the next step only once those
/// are healthy (`computeUnderProvisionedBy`, `computeDestructiveUpdates`). A group without an
/// update strategy (`MaxParallel` 0) is replaced whole. The group's `Update` wins over the
/// job's (`api/tasks.go` `TaskGroup.Canonicalize`).
pub fn rolling_batches(job: &Value) -> Vec<Vec<usize>> {
    let slots = alloc_slots(job);
    let mut per_group: Vec<Vec<Vec<usize>>> = Vec::new();
    for g in job["TaskGroups"].as_array().into_iter().flatten() {
        let name = g["Name"].as_str().unwrap_or_default();
        let update = if g["Update"].is_object() {
            &g["Update"]
        } else {
            &job["Update"]
        };
        let mine: Vec<usize> = slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.group == name)
            .map(|(i, _)| i)
            .collect();
        let step = match update["MaxParallel"].as_u64() {
            Some(n) if n > 0 => n as usize,
            _ => mine.len().max(1),
        };
        per_group.push(mine.chunks(step).map(<[usize]>::to_vec).collect());
    }
    let steps = per_group.iter().map(Vec::len).max().unwrap_or(0);
    (0..steps)
        .map(|k| {
            per_group
                .iter()
                .filter_map(|g| g.get(k))
                .flatten()
                .copied()
                .collect()
        })
        .collect()
}

/// One running etcd process.
#[derive(Debug)]
pub struct Member {
    /// Member name as the job gives it.
    pub name: String,
    /// `http://127.0.0.1:<client port>`.
    pub client_url: String,
    /// The binary.
    pub binary: PathBuf,
    /// The exact arguments it runs with.
    pub args: Vec<String>,
    /// Its working directory.
    pub cwd: PathBuf,
    /// Its log file.
    pub log: PathBuf,
    child: Option<Child>,
}

impl Member {
    /// Prepares a member (not started).
    pub fn new(
        name: impl Into<String>,
        client_url: impl Into<String>,
        binary: &Path,
        args: Vec<String>,
        cwd: &Path,
        log: &Path,
    ) -> Self {
        Member {
            name: name.into(),
            client_url: client_url.into(),
            binary: binary.to_path_buf(),
            args,
            cwd: cwd.to_path_buf(),
            log: log.to_path_buf(),
            child: None,
        }
    }

    /// Starts the process with exactly its arguments, appending its output to its log.
    pub fn start(&mut self) {
        std::fs::create_dir_all(&self.cwd).unwrap_or_else(|e| panic!("create {:?}: {e}", self.cwd));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap_or_else(|e| panic!("open {:?}: {e}", self.log));
        let err = log.try_clone().unwrap_or_else(|e| panic!("log: {e}"));
        let child = Command::new(&self.binary)
            .args(&self.args)
            .current_dir(&self.cwd)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("start {:?}: {e}", self.binary));
        self.child = Some(child);
    }

    /// Stops the process as Nomad's docker driver stops a task (SIGTERM, then SIGKILL after
    /// `grace`: hashicorp/nomad v1.11.3 `drivers/docker/handle.go` `Kill`) and waits for it.
    pub fn stop(&mut self, grace: Duration) {
        if let Some(mut c) = self.child.take() {
            if let Ok(pid) = i32::try_from(c.id()) {
                // SAFETY: signalling our own child process, still unreaped.
                unsafe {
                    libc::kill(pid, libc::SIGTERM);
                }
            }
            let start = Instant::now();
            while start.elapsed() < grace {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Whether the process has exited.
    pub fn exited(&mut self) -> bool {
        self.child
            .as_mut()
            .is_none_or(|c| matches!(c.try_wait(), Ok(Some(_))))
    }

    /// Kills the process (SIGKILL) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The last lines of its log, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    /// Waits until `/health` says `"health":"true"`.
    pub fn wait_healthy(&mut self, timeout: Duration) {
        let start = Instant::now();
        loop {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    panic!("{} exited with {status}:\n{}", self.name, self.log_tail());
                }
            }
            if health(&self.client_url) == Ok(true) {
                return;
            }
            if start.elapsed() > timeout {
                panic!(
                    "{} not healthy after {timeout:?}:\n{}",
                    self.name,
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One HTTP/1.0 request over plain TCP: `(status, body)`.
pub fn http(
    base: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Result<(u16, String), String> {
    let host = base
        .strip_prefix("http://")
        .ok_or_else(|| format!("not an http URL: {base}"))?;
    let addr = host
        .parse()
        .map_err(|e| format!("bad address {host}: {e}"))?;
    let mut s =
        TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let payload = body.map(Value::to_string).unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.0\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{payload}",
        payload.len()
    );
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).map_err(|e| e.to_string())?;
    let (head, body) = resp
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no HTTP header end in {resp:?}"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no status in {head:?}"))?;
    Ok((status, body.to_string()))
}

fn post(base: &str, path: &str, body: Value) -> Result<Value, String> {
    let (status, text) = http(base, "POST", path, Some(&body))?;
    if status != 200 {
        return Err(format!("{path}: HTTP {status}: {text}"));
    }
    serde_json::from_str(&text).map_err(|e| format!("{path}: {e}: {text}"))
}

/// `GET /health`: true when the member sees a leader.
pub fn health(base: &str) -> Result<bool, String> {
    let (_, text) = http(base, "GET", "/health", None)?;
    let v: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    Ok(v["health"] == "true")
}

/// Writes `key = value` through the v3 gateway.
pub fn put(base: &str, key: &str, value: &str) -> Result<(), String> {
    post(
        base,
        "/v3/kv/put",
        json!({"key": B64.encode(key), "value": B64.encode(value)}),
    )
    .map(|_| ())
}

/// Reads `key` (a linearizable read) through the v3 gateway.
pub fn get(base: &str, key: &str) -> Result<Option<String>, String> {
    let v = post(base, "/v3/kv/range", json!({"key": B64.encode(key)}))?;
    match v["kvs"].as_array().and_then(|a| a.first()) {
        None => Ok(None),
        Some(kv) => {
            let raw = B64
                .decode(kv["value"].as_str().unwrap_or_default())
                .map_err(|e| e.to_string())?;
            String::from_utf8(raw).map(Some).map_err(|e| e.to_string())
        }
    }
}

/// The names of the cluster's members, sorted.
pub fn member_names(base: &str) -> Result<Vec<String>, String> {
    let v = post(base, "/v3/cluster/member/list", json!({}))?;
    let mut names: Vec<String> = v["members"]
        .as_array()
        .ok_or_else(|| format!("no members in {v}"))?
        .iter()
        .map(|m| m["name"].as_str().unwrap_or_default().to_string())
        .collect();
    names.sort();
    Ok(names)
}

/// Retries `f` until it succeeds or `timeout` passes (elections take a moment).
pub fn retry<T>(timeout: Duration, mut f: impl FnMut() -> Result<T, String>) -> Result<T, String> {
    let start = Instant::now();
    loop {
        match f() {
            Ok(v) => return Ok(v),
            Err(e) if start.elapsed() > timeout => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}
