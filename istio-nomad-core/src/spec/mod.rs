//! The mesh description: one document, in HCL or JSON, that says what the mesh is.
//!
//! ```hcl
//! mesh "bookinfo" {
//!   datacenters = ["dc1"]
//!   service "details" {
//!     image = "docker.io/istio/examples-bookinfo-details-v1:1.8.0"
//!     port "http" { port = 9080 }
//!   }
//! }
//! ```
//!
//! The JSON form uses the same names: `{"mesh": {"name": "bookinfo", "service": [{"name":
//! "details", ...}]}}`; a labeled HCL block becomes a list item whose `name` is the label.
//! Parsing and validation happen once, in [`MeshSpec::from_hcl`] / [`MeshSpec::from_json`]; every
//! problem names the field path (`mesh.service[reviews].port[http].port`), the value and, for HCL
//! and JSON text, the line.

mod builder;
pub mod control_plane;
pub mod sidecar;

pub use builder::MeshSpecBuilder;

use crate::error::{Error, FieldError, Format, ParseError, Result, ValidationErrors};
use crate::istio::IstioVersion;
use crate::spec::control_plane::ControlPlaneSpec;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::HashSet;

/// The largest spec document accepted (bytes).
pub const MAX_SPEC_BYTES: usize = 4 * 1024 * 1024;
/// The deepest block nesting accepted.
pub const MAX_DEPTH: usize = 32;

/// A mesh description.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeshSpec {
    /// Mesh name (the HCL label); used as a prefix of the control-plane job IDs.
    pub name: String,
    /// Nomad region of every job.
    #[serde(default = "default_region")]
    pub region: String,
    /// Datacenters every job may run in.
    #[serde(default = "default_datacenters")]
    pub datacenters: Vec<String>,
    /// Nomad namespace of every job.
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// Istio release whose images and flags are used (1.0.x to 1.7.x; see [`crate::istio`]).
    #[serde(default = "default_istio_version")]
    pub istio_version: IstioVersion,
    /// Image registry of the Istio images (`<hub>/pilot:<version>`).
    #[serde(default = "default_hub")]
    pub hub: String,
    /// Addresses of the Nomad, Consul and etcd servers (all optional; the environment's
    /// standard variables apply otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nomad: Option<Endpoint>,
    /// Consul address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consul: Option<Endpoint>,
    /// etcd endpoints for the installer's state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etcd: Option<EtcdEndpoints>,
    /// Control-plane settings.
    #[serde(default)]
    pub control_plane: ControlPlaneSpec,
    /// How the app jobs get their Istio sidecar (`sidecar { ... }`).
    #[serde(default)]
    pub sidecar: sidecar::SidecarSpec,
    /// The meshed services.
    #[serde(default, rename = "service")]
    pub services: Vec<ServiceSpec>,
}

/// The address of one server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    /// `http://host:port` or `https://host:port`.
    pub address: String,
}

/// etcd client endpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EtcdEndpoints {
    /// `http://host:port` URLs.
    pub endpoints: Vec<String>,
}

/// One meshed service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    /// Service name as registered in Consul (the HCL label).
    pub name: String,
    /// Container image (when the service has no `version` blocks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Version label (`version|v1` tag) when the service has no `version` blocks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Instances per version.
    #[serde(default = "one")]
    pub count: i64,
    /// Protocol Pilot uses for the service (`http`, `http2`, `grpc`, `tcp`...).
    #[serde(default = "default_protocol")]
    pub protocol: String,
    /// Ports the service listens on.
    #[serde(default, rename = "port")]
    pub ports: Vec<PortSpec>,
    /// Versions of the service, each with its own image (Bookinfo's reviews v1, v2, v3).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<VersionSpec>,
    /// Environment of the app task.
    #[serde(default, skip_serializing_if = "indexmap::IndexMap::is_empty")]
    pub env: indexmap::IndexMap<String, String>,
    /// CPU in MHz of the app task.
    #[serde(default = "default_cpu")]
    pub cpu: i64,
    /// Memory in MB of the app task.
    #[serde(default = "default_memory")]
    pub memory: i64,
    /// Runs on a VM or bare-metal host outside Nomad (gets a VM bundle instead of a job).
    #[serde(default)]
    pub vm: bool,
    /// The IP address of that host (required with `vm = true`): the address its Consul agent
    /// registers the service at and the address its proxy reports to Pilot, which matches the
    /// two by equality (`pilot/pkg/serviceregistry/consul/controller.go`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm_address: Option<String>,
}

/// One version of a service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionSpec {
    /// Version label (`v1`).
    pub name: String,
    /// Image of this version.
    pub image: String,
    /// Instances of this version (defaults to the service's count).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<i64>,
}

/// A port of a service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortSpec {
    /// Port label (`http`).
    pub name: String,
    /// Port number the app listens on inside its network namespace.
    pub port: i64,
    /// Protocol of this port (defaults to the service's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
}

fn default_region() -> String {
    "global".into()
}
fn default_datacenters() -> Vec<String> {
    vec!["dc1".into()]
}
fn default_namespace() -> String {
    "default".into()
}
fn default_istio_version() -> IstioVersion {
    IstioVersion::default()
}
fn default_hub() -> String {
    crate::istio::DEFAULT_HUB.into()
}
fn default_protocol() -> String {
    "http".into()
}
fn one() -> i64 {
    1
}
fn default_cpu() -> i64 {
    100
}
fn default_memory() -> i64 {
    128
}

/// A resolved (service, version) pair: what one Nomad task group runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload<'a> {
    /// The service.
    pub service: &'a ServiceSpec,
    /// Version label, when the service has one.
    pub version: Option<&'a str>,
    /// Image.
    pub image: &'a str,
    /// Instances.
    pub count: i64,
}

impl ServiceSpec {
    /// The (version, image, count) workloads of this service.
    pub fn workloads(&self) -> Vec<Workload<'_>> {
        if self.versions.is_empty() {
            vec![Workload {
                service: self,
                version: self.version.as_deref(),
                image: self.image.as_deref().unwrap_or(""),
                count: self.count,
            }]
        } else {
            self.versions
                .iter()
                .map(|v| Workload {
                    service: self,
                    version: Some(&v.name),
                    image: &v.image,
                    count: v.count.unwrap_or(self.count),
                })
                .collect()
        }
    }
}

impl MeshSpec {
    /// Parses and validates an HCL mesh spec (`mesh "name" { ... }`).
    pub fn from_hcl(text: &str) -> Result<MeshSpec> {
        check_size(text, Format::Hcl)?;
        if let Some(line) = nesting_exceeds(text, MAX_DEPTH) {
            return Err(ParseError::new(
                Format::Hcl,
                format!("blocks are nested deeper than {MAX_DEPTH} levels"),
            )
            .line(line)
            .into());
        }
        let body: hcl::Body = hcl::parse(text).map_err(|e| hcl_error(&e))?;
        let value = hcl_body_to_spec_value(&body, 0, "mesh")?;
        let mesh = match value {
            Value::Object(mut m) => {
                let keys: Vec<String> = m.keys().cloned().collect();
                if keys.iter().any(|k| k != "mesh") {
                    let other = keys.into_iter().find(|k| k != "mesh").unwrap_or_default();
                    return Err(ParseError::new(
                        Format::Hcl,
                        "only one `mesh \"name\" { ... }` block may stand at the top level",
                    )
                    .at(other.clone())
                    .line(locate_line(text, &other))
                    .into());
                }
                match m.remove("mesh") {
                    Some(Value::Array(mut a)) if a.len() == 1 => a.remove(0),
                    Some(Value::Array(a)) => {
                        return Err(ParseError::new(
                            Format::Hcl,
                            format!("expected one mesh block, found {}", a.len()),
                        )
                        .at("mesh")
                        .into())
                    }
                    _ => {
                        return Err(ParseError::new(
                            Format::Hcl,
                            "expected a `mesh \"name\" { ... }` block",
                        )
                        .at("mesh")
                        .into())
                    }
                }
            }
            _ => {
                return Err(ParseError::new(
                    Format::Hcl,
                    "expected a `mesh \"name\" { ... }` block",
                )
                .into())
            }
        };
        Self::from_value_with_source(mesh, Some((text, Format::Hcl)))
    }

    /// Parses and validates a JSON mesh spec (`{"mesh": {...}}` or the bare mesh object).
    pub fn from_json(text: &str) -> Result<MeshSpec> {
        check_size(text, Format::Json)?;
        let value: Value = serde_json::from_str(text).map_err(|e| {
            Error::Parse(
                ParseError::new(Format::Json, strip_position(&e.to_string())).line(e.line()),
            )
        })?;
        let value = match value {
            Value::Object(mut m) if m.len() == 1 && m.contains_key("mesh") => {
                m.remove("mesh").unwrap_or(Value::Null)
            }
            v => v,
        };
        Self::from_value_with_source(value, Some((text, Format::Json)))
    }

    /// Builds and validates a spec from a JSON value of the mesh object.
    pub fn from_value(value: Value) -> Result<MeshSpec> {
        Self::from_value_with_source(value, None)
    }

    /// The spec as a JSON value of the mesh object (the form [`MeshSpec::from_value`] reads).
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// Reads a spec file, choosing HCL or JSON by its extension (`.json` is JSON).
    pub fn from_file(path: impl AsRef<std::path::Path>) -> Result<MeshSpec> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            op: "read",
            path: path.to_path_buf(),
            source,
        })?;
        let text = std::str::from_utf8(&bytes).map_err(|e| {
            ParseError::new(
                Format::Hcl,
                format!(
                    "the file is not UTF-8 (invalid byte at offset {})",
                    e.valid_up_to()
                ),
            )
        })?;
        if path.extension().is_some_and(|e| e == "json") {
            Self::from_json(text)
        } else {
            Self::from_hcl(text)
        }
    }

    fn from_value_with_source(value: Value, source: Option<(&str, Format)>) -> Result<MeshSpec> {
        if !value.is_object() {
            return Err(ParseError::new(
                source.map_or(Format::Json, |s| s.1),
                "the mesh must be an object",
            )
            .at("mesh")
            .into());
        }
        // The Istio release is a typed value: a release outside the supported range is a
        // validation error naming the field and the value, not a type error.
        if let Some(Value::String(v)) = value.get("istio_version") {
            if let Err(Error::Validation(mut errors)) =
                IstioVersion::parse_at("mesh.istio_version", v)
            {
                if let Some((text, _)) = source {
                    for e in &mut errors.0 {
                        let line = locate_line(text, &e.path);
                        e.message = format!("{} (line {line})", e.message);
                    }
                }
                return Err(Error::Validation(errors));
            }
        }
        let spec: MeshSpec = serde_path_to_error::deserialize(value).map_err(|e| {
            let path = spec_path(&e.path().to_string());
            let mut err =
                ParseError::new(source.map_or(Format::Json, |s| s.1), e.inner().to_string())
                    .at(path.clone());
            if let Some((text, _)) = source {
                err = err.line(locate_line(text, &path));
            }
            Error::Parse(err)
        })?;
        let mut errors = spec.validate_fields();
        if let Some((text, _)) = source {
            for e in &mut errors.0 {
                let line = locate_line(text, &e.path);
                e.message = format!("{} (line {line})", e.message);
            }
        }
        errors.into_result()?;
        Ok(spec)
    }

    /// Checks every rule and returns all problems (empty when valid).
    pub fn validate_fields(&self) -> ValidationErrors {
        let mut e = ValidationErrors::new();
        name_rule(&mut e, "mesh.name", &self.name);
        if self.datacenters.is_empty() {
            e.add(
                "mesh.datacenters",
                "at least one datacenter is needed",
                "[]",
            );
        }
        for (i, dc) in self.datacenters.iter().enumerate() {
            name_rule(&mut e, &format!("mesh.datacenters[{i}]"), dc);
        }
        name_rule(&mut e, "mesh.region", &self.region);
        name_rule(&mut e, "mesh.namespace", &self.namespace);
        image_rule(&mut e, "mesh.hub", &self.hub);
        for (key, ep) in [("nomad", &self.nomad), ("consul", &self.consul)] {
            if let Some(ep) = ep {
                url_rule(&mut e, &format!("mesh.{key}.address"), &ep.address);
            }
        }
        if let Some(etcd) = &self.etcd {
            for (i, u) in etcd.endpoints.iter().enumerate() {
                url_rule(&mut e, &format!("mesh.etcd.endpoints[{i}]"), u);
            }
        }
        e.extend(self.control_plane.validate(self));
        let mut names = HashSet::new();
        for s in &self.services {
            let sp = format!("mesh.service[{}]", s.name);
            name_rule(&mut e, &format!("{sp}.name"), &s.name);
            if !names.insert(s.name.clone()) {
                e.add(
                    format!("{sp}.name"),
                    "service names must be unique",
                    &s.name,
                );
            }
            if s.count < 0 {
                e.add(format!("{sp}.count"), "count may not be negative", s.count);
            }
            match (&s.vm_address, s.vm) {
                (Some(a), true) if a.parse::<std::net::IpAddr>().is_err() => e.add(
                    format!("{sp}.vm_address"),
                    "the VM's address must be an IPv4 or IPv6 address",
                    a,
                ),
                (Some(a), false) => e.add(
                    format!("{sp}.vm_address"),
                    "vm_address applies only to services with vm = true",
                    a,
                ),
                (None, true) => e.add(
                    format!("{sp}.vm_address"),
                    "a VM service needs its host's IP address: the VM's Consul agent registers the service there and Pilot matches the proxy to it by that IP",
                    "\"\"",
                ),
                _ => {}
            }
            if s.cpu < 1 {
                e.add(format!("{sp}.cpu"), "cpu must be at least 1 MHz", s.cpu);
            }
            if s.memory < 10 {
                e.add(
                    format!("{sp}.memory"),
                    "memory must be at least 10 MB",
                    s.memory,
                );
            }
            protocol_rule(&mut e, &format!("{sp}.protocol"), &s.protocol);
            if s.versions.is_empty() {
                match &s.image {
                    Some(img) => image_rule(&mut e, &format!("{sp}.image"), img),
                    None => e.add(
                        format!("{sp}.image"),
                        "a service needs an image (or version blocks with images)",
                        "\"\"",
                    ),
                }
                if let Some(v) = &s.version {
                    name_rule(&mut e, &format!("{sp}.version"), v);
                }
            } else {
                if s.image.is_some() {
                    e.add(
                        format!("{sp}.image"),
                        "set the image in each version block, not on the service",
                        s.image.as_deref().unwrap_or(""),
                    );
                }
                let mut vs = HashSet::new();
                for v in &s.versions {
                    let vp = format!("{sp}.version[{}]", v.name);
                    name_rule(&mut e, &format!("{vp}.name"), &v.name);
                    if !vs.insert(v.name.clone()) {
                        e.add(
                            format!("{vp}.name"),
                            "version names must be unique within the service",
                            &v.name,
                        );
                    }
                    image_rule(&mut e, &format!("{vp}.image"), &v.image);
                    if let Some(c) = v.count {
                        if c < 0 {
                            e.add(format!("{vp}.count"), "count may not be negative", c);
                        }
                    }
                }
            }
            if s.ports.is_empty() {
                e.add(
                    format!("{sp}.port"),
                    "a meshed service needs at least one port",
                    "[]",
                );
            }
            let mut labels = HashSet::new();
            let mut numbers = HashSet::new();
            for p in &s.ports {
                let pp = format!("{sp}.port[{}]", p.name);
                if p.name.is_empty()
                    || !p
                        .name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                {
                    e.add(
                        format!("{pp}.name"),
                        "a port label may hold only letters, digits, '_' and '-'",
                        &p.name,
                    );
                }
                if !labels.insert(p.name.clone()) {
                    e.add(
                        format!("{pp}.name"),
                        "port labels must be unique within the service",
                        &p.name,
                    );
                }
                if !(1..=65535).contains(&p.port) {
                    e.add(
                        format!("{pp}.port"),
                        "a port must be between 1 and 65535",
                        p.port,
                    );
                } else if !numbers.insert(p.port) {
                    e.add(
                        format!("{pp}.port"),
                        "the port number is used twice",
                        p.port,
                    );
                }
                if let Some(proto) = &p.protocol {
                    protocol_rule(&mut e, &format!("{pp}.protocol"), proto);
                }
            }
        }
        e
    }
}

const PROTOCOLS: &[&str] = &[
    "http", "http2", "grpc", "https", "tcp", "tls", "mongo", "redis", "mysql",
];

fn protocol_rule(e: &mut ValidationErrors, path: &str, p: &str) {
    if !PROTOCOLS.contains(&p) {
        e.add(
            path,
            format!("protocol must be one of {}", PROTOCOLS.join(", ")),
            p,
        );
    }
}

/// Names end up in job IDs, Consul service names and shell commands: DNS-label characters only.
fn name_rule(e: &mut ValidationErrors, path: &str, v: &str) {
    let ok = !v.is_empty()
        && v.len() <= 63
        && v.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !v.starts_with('-')
        && !v.ends_with('-');
    if !ok {
        e.push(
            FieldError::new(
                path,
                "must be 1-63 lowercase letters, digits or '-', not starting or ending with '-'",
            )
            .value(v),
        );
    }
}

/// Image references: registry/path:tag@digest characters, no spaces or shell metacharacters.
pub(crate) fn image_rule(e: &mut ValidationErrors, path: &str, v: &str) {
    let ok = !v.is_empty()
        && v.len() <= 512
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "./:-_@".contains(c));
    if !ok {
        e.push(
            FieldError::new(
                path,
                "an image reference may hold only letters, digits and . / : - _ @",
            )
            .value(v),
        );
    }
}

fn url_rule(e: &mut ValidationErrors, path: &str, v: &str) {
    let rest = v
        .strip_prefix("http://")
        .or_else(|| v.strip_prefix("https://"));
    let ok = rest.is_some_and(|r| {
        !r.is_empty()
            && r.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-_:[]/".contains(c))
    });
    if !ok {
        e.push(FieldError::new(path, "must be an http:// or https:// URL").value(v));
    }
}

fn check_size(text: &str, format: Format) -> Result<()> {
    if text.len() > MAX_SPEC_BYTES {
        return Err(ParseError::new(
            format,
            format!(
                "the spec is {} bytes; the limit is {MAX_SPEC_BYTES}",
                text.len()
            ),
        )
        .into());
    }
    if text.trim().is_empty() {
        return Err(ParseError::new(format, "the spec is empty").into());
    }
    Ok(())
}

/// Scans HCL text for `{`/`[`/`(` nesting deeper than `max` (outside strings and comments), so
/// pathological input is refused before the recursive parser sees it. Returns the line.
pub(crate) fn nesting_exceeds(text: &str, max: usize) -> Option<usize> {
    let (mut depth, mut line) = (0usize, 1usize);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            '"' => {
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        '\n' => line += 1,
                        _ => {}
                    }
                }
            }
            '#' => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        line += 1;
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        line += 1;
                        break;
                    }
                }
            }
            '{' | '[' | '(' => {
                depth += 1;
                if depth > max {
                    return Some(line);
                }
            }
            '}' | ']' | ')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

fn hcl_error(e: &hcl::Error) -> ParseError {
    match e {
        hcl::Error::Parse(p) => {
            ParseError::new(Format::Hcl, p.message().to_string()).line(p.location().line())
        }
        other => ParseError::new(Format::Hcl, other.to_string()),
    }
}

/// Converts an HCL body to the JSON shape of the spec: attributes become values, unlabeled
/// blocks objects, labeled blocks list items whose `name` is the label.
fn hcl_body_to_spec_value(body: &hcl::Body, depth: usize, path: &str) -> Result<Value> {
    if depth > MAX_DEPTH {
        return Err(ParseError::new(
            Format::Hcl,
            format!("blocks are nested deeper than {MAX_DEPTH} levels"),
        )
        .at(path)
        .into());
    }
    let mut out = Map::new();
    for attr in body.attributes() {
        let key = attr.key().to_string();
        let p = format!("{path}.{key}");
        if out.contains_key(&key) {
            return Err(
                ParseError::new(Format::Hcl, format!("`{key}` is set twice"))
                    .at(p)
                    .into(),
            );
        }
        out.insert(key, hcl_expr_to_value(attr.expr(), &p, depth)?);
    }
    for block in body.blocks() {
        let ident = block.identifier().to_string();
        let labels = block.labels();
        let mut inner =
            hcl_body_to_spec_value(block.body(), depth + 1, &format!("{path}.{ident}"))?;
        match labels.len() {
            0 => {
                if out.contains_key(&ident) {
                    return Err(ParseError::new(
                        Format::Hcl,
                        format!("the `{ident}` block may appear only once"),
                    )
                    .at(format!("{path}.{ident}"))
                    .into());
                }
                out.insert(ident, inner);
            }
            1 => {
                if let Value::Object(m) = &mut inner {
                    if m.contains_key("name") {
                        return Err(ParseError::new(
                            Format::Hcl,
                            "the block label is its name; do not also set `name`",
                        )
                        .at(format!("{path}.{ident}"))
                        .into());
                    }
                    let mut with_name = Map::new();
                    with_name.insert("name".into(), Value::String(labels[0].as_str().to_string()));
                    with_name.extend(std::mem::take(m));
                    *m = with_name;
                }
                let list_key = if ident == "version" {
                    "versions".to_string()
                } else {
                    ident.clone()
                };
                match out
                    .entry(list_key)
                    .or_insert_with(|| Value::Array(Vec::new()))
                {
                    Value::Array(a) => a.push(inner),
                    _ => {
                        return Err(ParseError::new(
                            Format::Hcl,
                            format!("`{ident}` is both an attribute and a block"),
                        )
                        .at(format!("{path}.{ident}"))
                        .into())
                    }
                }
            }
            n => {
                return Err(ParseError::new(
                    Format::Hcl,
                    format!("the `{ident}` block takes one label, not {n}"),
                )
                .at(format!("{path}.{ident}"))
                .into())
            }
        }
    }
    Ok(Value::Object(out))
}

fn hcl_expr_to_value(expr: &hcl::Expression, path: &str, depth: usize) -> Result<Value> {
    use hcl::Expression as E;
    if depth > MAX_DEPTH {
        return Err(ParseError::new(
            Format::Hcl,
            format!("values are nested deeper than {MAX_DEPTH} levels"),
        )
        .at(path)
        .into());
    }
    Ok(match expr {
        E::Null => Value::Null,
        E::Bool(b) => Value::Bool(*b),
        E::Number(n) => serde_json::to_value(n).unwrap_or(Value::Null),
        E::String(s) => Value::String(s.clone()),
        E::Array(a) => Value::Array(
            a.iter()
                .map(|x| hcl_expr_to_value(x, path, depth + 1))
                .collect::<Result<_>>()?,
        ),
        E::Object(o) => {
            let mut m = Map::new();
            for (k, v) in o {
                let key = match k {
                    hcl::ObjectKey::Identifier(i) => i.to_string(),
                    hcl::ObjectKey::Expression(E::String(s)) => s.clone(),
                    other => {
                        return Err(ParseError::new(
                            Format::Hcl,
                            format!("object keys must be names or strings, not {other}"),
                        )
                        .at(path)
                        .into())
                    }
                };
                m.insert(
                    key.clone(),
                    hcl_expr_to_value(v, &format!("{path}.{key}"), depth + 1)?,
                );
            }
            Value::Object(m)
        }
        E::TemplateExpr(t) => {
            return Err(ParseError::new(
                Format::Hcl,
                format!("templates and interpolations are not evaluated in a mesh spec: {t}"),
            )
            .at(path)
            .into())
        }
        other => {
            return Err(ParseError::new(
                Format::Hcl,
                format!("only literal values are allowed in a mesh spec, not `{other}`"),
            )
            .at(path)
            .into())
        }
    })
}

/// Turns a serde path (`service[1].port[0].port`) into the friendly form, keeping indexes.
fn spec_path(p: &str) -> String {
    if p.is_empty() || p == "." {
        "mesh".into()
    } else {
        format!("mesh.{p}")
    }
}

/// Finds the line a field path refers to by walking its segments through the text.
///
/// `mesh.service[reviews].port[http].port` looks for `service`, then `"reviews"`, then `port`,
/// `"http"` and `port` again, each after the previous match; the line of the last match wins.
pub fn locate_line(text: &str, path: &str) -> usize {
    let mut pos = 0usize;
    let line_at = |pos: usize| text[..pos.min(text.len())].matches('\n').count() + 1;
    let mut last = 1;
    for seg in path.split('.').skip(1) {
        let (key, label) = match seg.split_once('[') {
            Some((k, rest)) => (k, Some(rest.trim_end_matches(']'))),
            None => (seg, None),
        };
        let needles: Vec<String> = std::iter::once(key.to_string())
            .chain(
                label
                    .filter(|l| l.parse::<usize>().is_err())
                    .map(|l| format!("\"{l}\"")),
            )
            .collect();
        for n in needles {
            if n.is_empty() {
                continue;
            }
            if let Some(i) = find_word(&text[pos..], &n) {
                pos += i;
                last = line_at(pos);
                pos += n.len();
            }
        }
    }
    last
}

fn find_word(hay: &str, needle: &str) -> Option<usize> {
    let bytes = hay.as_bytes();
    let mut from = 0;
    while let Some(i) = hay[from..].find(needle) {
        let at = from + i;
        let before_ok =
            at == 0 || !(bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_');
        let end = at + needle.len();
        let after_ok =
            end >= bytes.len() || !(bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_');
        if before_ok && after_ok {
            return Some(at);
        }
        from = at + needle.len().max(1);
    }
    None
}
