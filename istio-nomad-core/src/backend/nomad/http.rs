//! The Nomad client over HTTP, configured like the `nomad` CLI.

use std::fmt;
use std::path::PathBuf;

use async_trait::async_trait;

use super::requests::{self as rq, NomadContext};
use super::types::{
    AllocationListStub, Deployment, DeregisterResponse, Evaluation, JobVersions, PlanResponse,
    RegisterRequest, RegisterResponse, ValidateResponse,
};
use super::{JobBody, Nomad};
use crate::backend::env::{bool_var, parse_address, path_var, process_env, var};
use crate::backend::transport::{HttpTransport, TlsFields};
use crate::backend::{
    BackendResult, BasicAuth, ClientOptions, Indexed, QueryOptions, Secret, Service, TlsConfig,
};

/// Default Nomad address.
pub const DEFAULT_ADDRESS: &str = "http://127.0.0.1:4646";

/// Settings of a Nomad client.
#[derive(Clone, PartialEq, Eq)]
pub struct NomadConfig {
    /// Base address (`NOMAD_ADDR`); `http://127.0.0.1/` for a `unix://` address, the host
    /// Nomad's Go client sends over a socket (hashicorp/nomad `api/api.go` `newRequest`).
    pub address: reqwest::Url,
    /// The socket of a `unix:///path` `NOMAD_ADDR` (hashicorp/nomad `api/api.go`
    /// `defaultUDSClient`).
    pub unix_socket: Option<PathBuf>,
    /// HTTP basic auth (`NOMAD_HTTP_AUTH`, `user[:password]`).
    pub http_auth: Option<BasicAuth>,
    /// ACL token (`NOMAD_TOKEN`), sent as `X-Nomad-Token`.
    pub token: Option<Secret>,
    /// Namespace (`NOMAD_NAMESPACE`).
    pub namespace: Option<String>,
    /// Region (`NOMAD_REGION`).
    pub region: Option<String>,
    /// TLS (`NOMAD_CACERT`, `NOMAD_CLIENT_CERT`, `NOMAD_CLIENT_KEY`, `NOMAD_TLS_SERVER_NAME`,
    /// `NOMAD_SKIP_VERIFY`).
    pub tls: TlsConfig,
    /// Timeouts and retries.
    pub options: ClientOptions,
}

impl fmt::Debug for NomadConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NomadConfig")
            .field("address", &self.address.as_str())
            .field("unix_socket", &self.unix_socket)
            .field("http_auth", &self.http_auth)
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .field("namespace", &self.namespace)
            .field("region", &self.region)
            .field("tls", &self.tls)
            .field("options", &self.options)
            .finish()
    }
}

const TLS_FIELDS: TlsFields = TlsFields {
    ca_cert: "NOMAD_CACERT",
    ca_path: "NOMAD_CAPATH",
    client_cert: "NOMAD_CLIENT_CERT",
    client_key: "NOMAD_CLIENT_KEY",
};

impl NomadConfig {
    /// A builder starting from the defaults (`http://127.0.0.1:4646`, no token).
    pub fn builder() -> NomadConfigBuilder {
        NomadConfigBuilder::default()
    }

    /// Reads the `nomad` CLI's environment variables from the process environment.
    pub fn from_env() -> BackendResult<Self> {
        Self::from_env_with(process_env)
    }

    /// Reads the `nomad` CLI's environment variables through `lookup` (unset and empty
    /// values mean the default), as hashicorp/nomad `api/api.go` `DefaultConfig` does:
    /// `NOMAD_ADDR` (`http://`, `https://` or `unix://`), `NOMAD_TOKEN`, `NOMAD_NAMESPACE`,
    /// `NOMAD_REGION`, `NOMAD_HTTP_AUTH`, `NOMAD_CACERT`, `NOMAD_CAPATH`,
    /// `NOMAD_CLIENT_CERT`, `NOMAD_CLIENT_KEY`, `NOMAD_TLS_SERVER_NAME`, `NOMAD_SKIP_VERIFY`.
    pub fn from_env_with(lookup: impl Fn(&str) -> Option<String>) -> BackendResult<Self> {
        let lookup: &dyn Fn(&str) -> Option<String> = &lookup;
        let mut b = NomadConfig::builder();
        if let Some(addr) = var(lookup, "NOMAD_ADDR") {
            b = b.address(addr).address_field("NOMAD_ADDR");
        }
        if let Some(t) = var(lookup, "NOMAD_TOKEN") {
            b = b.token(t);
        }
        if let Some(ns) = var(lookup, "NOMAD_NAMESPACE") {
            b = b.namespace(ns);
        }
        if let Some(r) = var(lookup, "NOMAD_REGION") {
            b = b.region(r);
        }
        if let Some(auth) = var(lookup, "NOMAD_HTTP_AUTH") {
            b = b.http_auth(BasicAuth::parse(&auth));
        }
        b.tls.ca_cert = path_var(lookup, "NOMAD_CACERT");
        b.tls.ca_path = path_var(lookup, "NOMAD_CAPATH");
        b.tls.client_cert = path_var(lookup, "NOMAD_CLIENT_CERT");
        b.tls.client_key = path_var(lookup, "NOMAD_CLIENT_KEY");
        b.tls.server_name = var(lookup, "NOMAD_TLS_SERVER_NAME");
        b.tls.skip_verify = bool_var(lookup, "NOMAD_SKIP_VERIFY")?.unwrap_or(false);
        b.build()
    }
}

/// Builds a [`NomadConfig`].
#[derive(Clone)]
#[must_use]
pub struct NomadConfigBuilder {
    address: String,
    address_field: &'static str,
    token: Option<Secret>,
    http_auth: Option<BasicAuth>,
    namespace: Option<String>,
    region: Option<String>,
    tls: TlsConfig,
    options: ClientOptions,
}

impl fmt::Debug for NomadConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NomadConfigBuilder")
            .field("address", &self.address)
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .field("http_auth", &self.http_auth)
            .field("namespace", &self.namespace)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl Default for NomadConfigBuilder {
    fn default() -> Self {
        NomadConfigBuilder {
            address: DEFAULT_ADDRESS.into(),
            address_field: "address",
            token: None,
            http_auth: None,
            namespace: None,
            region: None,
            tls: TlsConfig::default(),
            options: ClientOptions::default(),
        }
    }
}

impl NomadConfigBuilder {
    /// Server address, `http(s)://host:port` or `unix:///path/to/nomad.sock`.
    pub fn address(mut self, address: impl Into<String>) -> Self {
        self.address = address.into();
        self
    }

    fn address_field(mut self, field: &'static str) -> Self {
        self.address_field = field;
        self
    }

    /// ACL token.
    pub fn token(mut self, token: impl Into<Secret>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Namespace of every request.
    pub fn namespace(mut self, ns: impl Into<String>) -> Self {
        self.namespace = Some(ns.into());
        self
    }

    /// HTTP basic-auth credentials of every request.
    pub fn http_auth(mut self, auth: BasicAuth) -> Self {
        self.http_auth = Some(auth);
        self
    }

    /// Region of every request.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// TLS settings.
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        self.tls = tls;
        self
    }

    /// Timeouts and retries.
    pub fn options(mut self, options: ClientOptions) -> Self {
        self.options = options;
        self
    }

    /// Checks the address and the TLS pairing.
    pub fn build(self) -> BackendResult<NomadConfig> {
        let parsed = parse_address(self.address_field, &self.address, "http", Some("127.0.0.1"))?;
        if self.tls.client_cert.is_some() != self.tls.client_key.is_some() {
            return Err(crate::backend::BackendError::Tls {
                field: "NOMAD_CLIENT_CERT/NOMAD_CLIENT_KEY".into(),
                message: "both client cert and client key must be provided".into(),
            });
        }
        Ok(NomadConfig {
            address: parsed.url,
            unix_socket: parsed.unix_socket,
            http_auth: self.http_auth,
            token: self.token,
            namespace: self.namespace,
            region: self.region,
            tls: self.tls,
            options: self.options,
        })
    }
}

/// The Nomad job API over HTTP.
#[derive(Clone)]
pub struct HttpNomad {
    transport: HttpTransport,
    ctx: NomadContext,
}

impl fmt::Debug for HttpNomad {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpNomad")
            .field("transport", &self.transport)
            .field("namespace", &self.ctx.namespace)
            .field("region", &self.ctx.region)
            .field("token", &self.ctx.token.as_ref().map(|_| "[redacted]"))
            .field(
                "http_auth",
                &self.ctx.http_auth.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

impl HttpNomad {
    /// A client for `config` (reads the TLS files).
    pub fn new(config: &NomadConfig) -> BackendResult<Self> {
        let auth_header = config.http_auth.as_ref().map(BasicAuth::header_value);
        let mut secrets: Vec<Secret> = config.token.iter().cloned().collect();
        if let (Some(a), Some(h)) = (&config.http_auth, &auth_header) {
            secrets.push(a.password.clone());
            secrets.push(h.clone());
        }
        let transport = HttpTransport::new(
            Service::Nomad,
            vec![config.address.clone()],
            &config.tls,
            TLS_FIELDS,
            config.options.clone(),
            secrets,
            config.unix_socket.clone(),
        )?;
        Ok(HttpNomad {
            transport,
            ctx: NomadContext {
                namespace: config.namespace.clone(),
                region: config.region.clone(),
                token: config.token.clone(),
                http_auth: auth_header,
            },
        })
    }

    /// A client configured from the process environment.
    pub fn from_env() -> BackendResult<Self> {
        Self::new(&NomadConfig::from_env()?)
    }

    /// What every request carries (namespace, region, token).
    pub fn context(&self) -> &NomadContext {
        &self.ctx
    }
}

#[async_trait]
impl Nomad for HttpNomad {
    async fn register_job(&self, req: &RegisterRequest) -> BackendResult<RegisterResponse> {
        let r = rq::register(&self.ctx, req)?;
        self.transport.call(&r, rq::decode_register).await
    }

    async fn plan_job(&self, job: &JobBody, diff: bool) -> BackendResult<PlanResponse> {
        let r = rq::plan(&self.ctx, job, diff)?;
        self.transport.call(&r, rq::decode_plan).await
    }

    async fn validate_job(&self, job: &JobBody) -> BackendResult<ValidateResponse> {
        let r = rq::validate(&self.ctx, job)?;
        self.transport.call(&r, rq::decode_validate).await
    }

    async fn read_job(&self, job_id: &str, q: &QueryOptions) -> BackendResult<Indexed<JobBody>> {
        self.transport
            .call(&rq::read_job(&self.ctx, job_id, q), rq::decode_job)
            .await
    }

    async fn job_versions(&self, job_id: &str, diffs: bool) -> BackendResult<Indexed<JobVersions>> {
        self.transport
            .call(
                &rq::job_versions(&self.ctx, job_id, diffs),
                rq::decode_versions,
            )
            .await
    }

    async fn deregister_job(&self, job_id: &str, purge: bool) -> BackendResult<DeregisterResponse> {
        self.transport
            .call(
                &rq::deregister(&self.ctx, job_id, purge),
                rq::decode_deregister,
            )
            .await
    }

    async fn job_allocations(
        &self,
        job_id: &str,
        all: bool,
        q: &QueryOptions,
    ) -> BackendResult<Indexed<Vec<AllocationListStub>>> {
        self.transport
            .call(
                &rq::job_allocations(&self.ctx, job_id, all, q),
                rq::decode_allocations,
            )
            .await
    }

    async fn job_deployments(
        &self,
        job_id: &str,
        q: &QueryOptions,
    ) -> BackendResult<Indexed<Vec<Deployment>>> {
        self.transport
            .call(
                &rq::job_deployments(&self.ctx, job_id, q),
                rq::decode_deployments,
            )
            .await
    }

    async fn latest_deployment(
        &self,
        job_id: &str,
        q: &QueryOptions,
    ) -> BackendResult<Indexed<Option<Deployment>>> {
        self.transport
            .call(
                &rq::latest_deployment(&self.ctx, job_id, q),
                rq::decode_latest_deployment,
            )
            .await
    }

    async fn job_evaluations(
        &self,
        job_id: &str,
        q: &QueryOptions,
    ) -> BackendResult<Indexed<Vec<Evaluation>>> {
        self.transport
            .call(
                &rq::job_evaluations(&self.ctx, job_id, q),
                rq::decode_evaluations,
            )
            .await
    }

    async fn evaluation(
        &self,
        eval_id: &str,
        q: &QueryOptions,
    ) -> BackendResult<Indexed<Evaluation>> {
        self.transport
            .call(
                &rq::evaluation(&self.ctx, eval_id, q),
                rq::decode_evaluation,
            )
            .await
    }

    async fn list_nodes(
        &self,
        q: &QueryOptions,
    ) -> BackendResult<Indexed<Vec<super::NodeListStub>>> {
        self.transport
            .call(&rq::list_nodes(&self.ctx, q), rq::decode_nodes)
            .await
    }

    async fn read_node(
        &self,
        node_id: &str,
        q: &QueryOptions,
    ) -> BackendResult<Indexed<super::NodeInfo>> {
        self.transport
            .call(&rq::read_node(&self.ctx, node_id, q), rq::decode_node)
            .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn defaults() {
        let c = NomadConfig::from_env_with(env(&[])).unwrap();
        assert_eq!(c.address.as_str(), "http://127.0.0.1:4646/");
        assert_eq!(c.token, None);
        assert_eq!(c.namespace, None);
        assert!(!c.tls.skip_verify);
    }

    #[test]
    fn all_variables() {
        let c = NomadConfig::from_env_with(env(&[
            ("NOMAD_ADDR", "https://nomad.example:4646"),
            ("NOMAD_TOKEN", "secret-id"),
            ("NOMAD_NAMESPACE", "mesh"),
            ("NOMAD_REGION", "eu-west"),
            ("NOMAD_CACERT", "/etc/nomad/ca.pem"),
            ("NOMAD_CLIENT_CERT", "/etc/nomad/cli.pem"),
            ("NOMAD_CLIENT_KEY", "/etc/nomad/cli-key.pem"),
            ("NOMAD_TLS_SERVER_NAME", "server.global.nomad"),
            ("NOMAD_SKIP_VERIFY", "true"),
        ]))
        .unwrap();
        assert_eq!(c.address.as_str(), "https://nomad.example:4646/");
        assert_eq!(c.token, Some(Secret::new("secret-id")));
        assert_eq!(c.namespace.as_deref(), Some("mesh"));
        assert_eq!(c.region.as_deref(), Some("eu-west"));
        assert_eq!(
            c.tls.ca_cert.as_deref(),
            Some(std::path::Path::new("/etc/nomad/ca.pem"))
        );
        assert_eq!(c.tls.server_name.as_deref(), Some("server.global.nomad"));
        assert!(c.tls.skip_verify);
        assert!(!format!("{c:?}").contains("secret-id"));
    }

    #[test]
    fn bad_values_name_the_variable() {
        let e = NomadConfig::from_env_with(env(&[("NOMAD_SKIP_VERIFY", "maybe")])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid setting NOMAD_SKIP_VERIFY: \"maybe\" is not a boolean (use true or false)"
        );
        let e = NomadConfig::from_env_with(env(&[("NOMAD_ADDR", "unix://")])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid setting NOMAD_ADDR: \"unix://\" names no socket path"
        );
        let e = NomadConfig::from_env_with(env(&[("NOMAD_CLIENT_CERT", "/c.pem")])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "TLS setting NOMAD_CLIENT_CERT/NOMAD_CLIENT_KEY: both client cert and client key must be provided"
        );
    }

    #[test]
    fn unix_socket_capath_and_basic_auth() {
        let c = NomadConfig::from_env_with(env(&[
            ("NOMAD_ADDR", "unix:///var/run/nomad.sock"),
            ("NOMAD_HTTP_AUTH", "ops:s3cret"),
            ("NOMAD_CAPATH", "/etc/nomad/cas"),
        ]))
        .unwrap();
        assert_eq!(c.address.as_str(), "http://127.0.0.1/");
        assert_eq!(
            c.unix_socket.as_deref(),
            Some(std::path::Path::new("/var/run/nomad.sock"))
        );
        assert_eq!(c.http_auth, Some(BasicAuth::new("ops", "s3cret")));
        assert_eq!(
            c.tls.ca_path.as_deref(),
            Some(std::path::Path::new("/etc/nomad/cas"))
        );
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("s3cret"), "{dbg}");
        assert!(dbg.contains("ops"), "{dbg}");
        let mut c = c;
        c.tls.ca_path = None;
        let client = HttpNomad::new(&c).unwrap();
        let dbg = format!("{client:?}");
        assert!(
            !dbg.contains("s3cret") && !dbg.contains("b3BzOnMzY3JldA"),
            "{dbg}"
        );
    }

    #[test]
    fn missing_ca_file_is_a_tls_error() {
        let c = NomadConfig::builder()
            .tls(TlsConfig {
                ca_cert: Some("/nonexistent/ca.pem".into()),
                ..TlsConfig::default()
            })
            .build()
            .unwrap();
        let e = HttpNomad::new(&c).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("TLS setting NOMAD_CACERT: cannot read /nonexistent/ca.pem"),
            "{e}"
        );
    }
}
