//! The Nomad job model: typed values in the shape of Nomad's HTTP API, read and written as
//! API JSON and as HCL2 jobspecs, and validated with Nomad's own rules.
//!
//! ```
//! use istio_nomad_core::nomad::{Job, TaskGroup, Task};
//!
//! let job = Job::new("web")
//!     .datacenters(["dc1"])
//!     .group(TaskGroup::new("api").count(2).task(Task::new("app", "docker").config("image", "nginx:1.27")));
//! job.validate().unwrap();
//! assert_eq!(job.to_json_value().unwrap()["TaskGroups"][0]["Count"], 2);
//! ```

pub mod hcl;
mod model;
pub mod openapi;
pub mod registration;
mod validate;

pub use model::*;
pub use validate::{is_duration_ok, CONSTRAINT_OPERATORS, NOMAD_MAX_PRIORITY};

use crate::error::{Error, Format, ParseError, Result};
use serde_json::Value;

/// Nomad meta and tag conventions shared by the modules that write jobs.
pub mod meta {
    /// Group meta key set on groups this library injected a sidecar into.
    pub const INJECTED: &str = "istio-nomad.injected";
}

impl Job {
    /// A job with this ID and the same name (the default Nomad and its HCL parser give the name).
    pub fn new(id: impl Into<String>) -> Self {
        let id = id.into();
        Job {
            name: Some(id.clone()),
            id: Some(id),
            ..Default::default()
        }
    }

    /// The job ID, or an empty string when unset.
    pub fn id(&self) -> &str {
        self.id.as_deref().unwrap_or("")
    }

    /// The job type, `service` when unset.
    pub fn kind(&self) -> &str {
        self.job_type.as_deref().unwrap_or("service")
    }

    /// Sets the job type.
    #[must_use]
    pub fn job_type(mut self, t: impl Into<String>) -> Self {
        self.job_type = Some(t.into());
        self
    }

    /// Sets the datacenters.
    #[must_use]
    pub fn datacenters<I, S>(mut self, dcs: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.datacenters = dcs.into_iter().map(Into::into).collect();
        self
    }

    /// Adds a task group.
    #[must_use]
    pub fn group(mut self, g: TaskGroup) -> Self {
        self.task_groups.push(g);
        self
    }

    /// Adds a job-level constraint.
    #[must_use]
    pub fn constraint(mut self, c: Constraint) -> Self {
        self.constraints.push(c);
        self
    }

    /// Sets one meta key.
    #[must_use]
    pub fn meta(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.meta.insert(k.into(), v.into());
        self
    }

    /// Fills in the defaults Nomad's HCL parser writes for the blocks it reads (a template's
    /// `ChangeMode = "restart"`, `Perms = "0644"`, `Splay = 5s`, `ErrMissingKey = false`; a
    /// vault block's `Env = true`, `DisableFile = false`, `ChangeMode = "restart"`), so a job
    /// built in code and its HCL rendering read back give the same API JSON.
    #[must_use]
    pub fn with_parser_defaults(mut self) -> Self {
        for t in self.task_groups.iter_mut().flat_map(|g| g.tasks.iter_mut()) {
            for tm in &mut t.templates {
                tm.change_mode.get_or_insert_with(|| "restart".into());
                tm.perms.get_or_insert_with(|| "0644".into());
                tm.splay.get_or_insert(5 * SECOND);
                tm.extra
                    .entry("ErrMissingKey")
                    .or_insert(Value::Bool(false));
            }
            if let Some(v) = &mut t.vault {
                v.env.get_or_insert(true);
                v.change_mode.get_or_insert_with(|| "restart".into());
                v.extra.entry("DisableFile").or_insert(Value::Bool(false));
            }
        }
        self
    }

    /// The group with this name.
    pub fn find_group(&self, name: &str) -> Option<&TaskGroup> {
        self.task_groups
            .iter()
            .find(|g| g.name.as_deref() == Some(name))
    }

    /// The group with this name, mutable.
    pub fn find_group_mut(&mut self, name: &str) -> Option<&mut TaskGroup> {
        self.task_groups
            .iter_mut()
            .find(|g| g.name.as_deref() == Some(name))
    }

    /// Reads a job from API JSON: either the bare job object (`GET /v1/job/:id`) or the
    /// register body `{"Job": {...}}`. Type errors name the JSON path and line.
    pub fn from_json(text: &str) -> Result<Job> {
        let mut de = serde_json::Deserializer::from_str(text);
        let value: Value = serde_path_to_error::deserialize(&mut de).map_err(|e| json_error(&e))?;
        de.end()
            .map_err(|e| ParseError::new(Format::Json, e.to_string()).line(e.line()))?;
        Job::from_json_value(value)
    }

    /// Reads a job from a JSON value (bare or wrapped in `{"Job": ...}`).
    pub fn from_json_value(value: Value) -> Result<Job> {
        let value = match value {
            Value::Object(mut m) if m.len() == 1 && m.contains_key("Job") => {
                m.remove("Job").unwrap_or(Value::Null)
            }
            v => v,
        };
        if !value.is_object() {
            return Err(ParseError::new(Format::Json, "a job must be a JSON object").into());
        }
        // Fast path without path tracking (which copies every key it meets); only a value
        // that does not fit is read again to name the path of the problem.
        match <Job as serde::Deserialize>::deserialize(&value) {
            Ok(job) => Ok(job),
            Err(_) => serde_path_to_error::deserialize(value).map_err(|e| json_error(&e).into()),
        }
    }

    /// Reads a job from an HCL2 jobspec (`job "id" { group ... }`), mapped the way Nomad's
    /// jobspec2 parser maps it onto the API model. `${...}` interpolations Nomad resolves at
    /// run time are kept as text. Reading is strict: an argument or block Nomad does not know
    /// is an error (see [`Job::from_hcl_with`] for variables and other options).
    pub fn from_hcl(text: &str) -> Result<Job> {
        let value = hcl::jobspec_to_api(text)?;
        Job::from_json_value(value)
    }

    /// Reads a job from an HCL2 jobspec with options: variable values (`-var`, `-var-file`,
    /// `NOMAD_VAR_<name>`), unknown fields kept, filesystem functions, evaluation limits.
    pub fn from_hcl_with(text: &str, opts: &hcl::HclOptions) -> Result<Job> {
        let value = hcl::jobspec_to_api_with(text, opts)?;
        Job::from_json_value(value)
    }

    /// Renders the job as a readable, `nomad job run`-ready HCL2 jobspec.
    pub fn to_hcl(&self) -> Result<String> {
        hcl::api_to_jobspec(&self.to_json_value()?)
    }

    /// Reads a job file: JSON when the name ends in `.json`, else HCL. Invalid UTF-8 is a parse
    /// error naming the byte offset.
    pub fn from_file(path: impl AsRef<std::path::Path>) -> Result<Job> {
        Job::from_file_with(path, &hcl::HclOptions::default())
    }

    /// Like [`Job::from_file`], reading an HCL file with `opts`; filesystem functions (when
    /// allowed) read relative to the job file's folder unless `opts.base_dir` is set. JSON
    /// input keeps unknown keys and takes no variables.
    pub fn from_file_with(
        path: impl AsRef<std::path::Path>,
        opts: &hcl::HclOptions,
    ) -> Result<Job> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            op: "read",
            path: path.to_path_buf(),
            source,
        })?;
        let json = path.extension().is_some_and(|e| e == "json");
        let format = if json { Format::Json } else { Format::Hcl };
        let text = std::str::from_utf8(&bytes).map_err(|e| {
            ParseError::new(
                format,
                format!(
                    "the file is not UTF-8 (invalid byte at offset {})",
                    e.valid_up_to()
                ),
            )
        })?;
        if json {
            Job::from_json(text)
        } else if opts.allow_fs && opts.base_dir.is_none() {
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            let opts = opts.clone().base_dir(dir);
            Job::from_hcl_with(text, &opts)
        } else {
            Job::from_hcl_with(text, opts)
        }
    }

    /// The job as an API JSON value (the bare job object).
    pub fn to_json_value(&self) -> Result<Value> {
        serde_json::to_value(self).map_err(|source| Error::Encode {
            what: "job",
            source,
        })
    }

    /// The job as pretty-printed API JSON (the bare job object).
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(|source| Error::Encode {
            what: "job",
            source,
        })
    }

    /// The body of `POST /v1/jobs`: `{"Job": {...}}`, pretty-printed.
    pub fn to_register_json(&self) -> Result<String> {
        #[derive(serde::Serialize)]
        struct Register<'a> {
            #[serde(rename = "Job")]
            job: &'a Job,
        }
        serde_json::to_string_pretty(&Register { job: self }).map_err(|source| Error::Encode {
            what: "register body",
            source,
        })
    }

    /// Checks the job with Nomad's own rules and reports every problem at once, each with its
    /// path (`job[web].group[api].task[app].service[0].port`) and the offending value.
    pub fn validate(&self) -> Result<()> {
        validate::validate_job(self).into_result()
    }
}

impl TaskGroup {
    /// A group with this name.
    pub fn new(name: impl Into<String>) -> Self {
        TaskGroup {
            name: Some(name.into()),
            ..Default::default()
        }
    }

    /// The group name, or an empty string when unset.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("")
    }

    /// Sets the count.
    #[must_use]
    pub fn count(mut self, n: i64) -> Self {
        self.count = Some(n);
        self
    }

    /// Adds a task.
    #[must_use]
    pub fn task(mut self, t: Task) -> Self {
        self.tasks.push(t);
        self
    }

    /// Adds a group service.
    #[must_use]
    pub fn service(mut self, s: Service) -> Self {
        self.services.push(s);
        self
    }

    /// Adds a network.
    #[must_use]
    pub fn network(mut self, n: NetworkResource) -> Self {
        self.networks.push(n);
        self
    }

    /// Adds a constraint.
    #[must_use]
    pub fn constraint(mut self, c: Constraint) -> Self {
        self.constraints.push(c);
        self
    }

    /// Sets one meta key.
    #[must_use]
    pub fn meta(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.meta.insert(k.into(), v.into());
        self
    }

    /// The task with this name.
    pub fn find_task(&self, name: &str) -> Option<&Task> {
        self.tasks.iter().find(|t| t.name.as_deref() == Some(name))
    }

    /// Every port label defined by the group's networks (and the legacy task networks).
    pub fn port_labels(&self) -> Vec<&str> {
        let task_nets = self
            .tasks
            .iter()
            .filter_map(|t| t.resources.as_ref())
            .flat_map(|r| r.networks.iter());
        self.networks
            .iter()
            .chain(task_nets)
            .flat_map(|n| n.reserved_ports.iter().chain(n.dynamic_ports.iter()))
            .filter_map(|p| p.label.as_deref())
            .collect()
    }
}

impl Task {
    /// A task with this name and driver.
    pub fn new(name: impl Into<String>, driver: impl Into<String>) -> Self {
        Task {
            name: Some(name.into()),
            driver: Some(driver.into()),
            ..Default::default()
        }
    }

    /// The task name, or an empty string when unset.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("")
    }

    /// Sets one driver config key.
    #[must_use]
    pub fn config(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.config.insert(key.into(), value.into());
        self
    }

    /// Sets one environment variable.
    #[must_use]
    pub fn env(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.env.insert(k.into(), v.into());
        self
    }

    /// Sets the resources.
    #[must_use]
    pub fn resources(mut self, cpu_mhz: i64, memory_mb: i64) -> Self {
        self.resources = Some(Resources {
            cpu: Some(cpu_mhz),
            memory_mb: Some(memory_mb),
            ..Default::default()
        });
        self
    }

    /// Sets the lifecycle hook.
    #[must_use]
    pub fn lifecycle(mut self, hook: impl Into<String>, sidecar: bool) -> Self {
        self.lifecycle = Some(Lifecycle {
            hook: Some(hook.into()),
            sidecar: Some(sidecar),
            ..Default::default()
        });
        self
    }

    /// Adds a template.
    #[must_use]
    pub fn template(mut self, t: Template) -> Self {
        self.templates.push(t);
        self
    }

    /// True for a main task (one without a lifecycle hook).
    pub fn is_main(&self) -> bool {
        self.lifecycle
            .as_ref()
            .and_then(|l| l.hook.as_deref())
            .is_none_or(str::is_empty)
    }
}

impl Port {
    /// A dynamic port mapped to `to` inside the network namespace (`to` of -1: same number).
    pub fn dynamic(label: impl Into<String>, to: i64) -> Self {
        Port {
            label: Some(label.into()),
            to: Some(to),
            ..Default::default()
        }
    }

    /// A static host port, mapped to `to` inside the namespace when given.
    pub fn fixed(label: impl Into<String>, value: i64, to: Option<i64>) -> Self {
        Port {
            label: Some(label.into()),
            value: Some(value),
            to,
            ..Default::default()
        }
    }
}

impl Constraint {
    /// `attribute operator value`.
    pub fn new(
        attribute: impl Into<String>,
        operator: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        Constraint {
            l_target: Some(attribute.into()),
            operand: Some(operator.into()),
            r_target: Some(value.into()),
            ..Default::default()
        }
    }

    /// `distinct_hosts = true`: no two allocations on one node.
    pub fn distinct_hosts() -> Self {
        Constraint {
            operand: Some("distinct_hosts".into()),
            r_target: Some("true".into()),
            ..Default::default()
        }
    }
}

fn json_error<E: std::fmt::Display>(e: &serde_path_to_error::Error<E>) -> ParseError {
    let path = e.path().to_string();
    let inner = e.inner().to_string();
    // serde_json appends " at line L column C"; keep the line as a field.
    let (message, line) = match inner.rfind(" at line ") {
        Some(i) => {
            let line = inner[i + 9..]
                .split_whitespace()
                .next()
                .and_then(|l| l.parse().ok());
            (inner[..i].to_string(), line)
        }
        None => (inner, None),
    };
    let mut err = ParseError::new(Format::Json, message);
    if path != "." && !path.is_empty() {
        err = err.at(path);
    }
    if let Some(l) = line {
        err = err.line(l);
    }
    err
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Parse(ParseError::new(Format::Json, e.to_string()).line(e.line()))
    }
}
