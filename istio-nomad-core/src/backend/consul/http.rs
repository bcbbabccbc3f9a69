//! The Consul client over HTTP, configured like the `consul` CLI.

use std::fmt;
use std::path::PathBuf;

use async_trait::async_trait;

use super::requests::{self as rq, ConsulContext};
use super::types::{
    CatalogService, KvPair, ServiceEntry, ServiceRegistration, SessionInfo, SessionRequest, TxnOp,
    TxnResponse,
};
use super::Consul;
use crate::backend::env::{bool_var, parse_address, path_var, process_env, var};
use crate::backend::transport::{HttpTransport, TlsFields};
use crate::backend::{
    BackendError, BackendResult, BasicAuth, ClientOptions, Indexed, QueryOptions, Secret, Service,
    TlsConfig,
};

/// Default Consul address.
pub const DEFAULT_ADDRESS: &str = "127.0.0.1:8500";

/// Settings of a Consul client.
#[derive(Clone, PartialEq, Eq)]
pub struct ConsulConfig {
    /// Base address, path prefix included (`CONSUL_HTTP_ADDR`, scheme from `CONSUL_HTTP_SSL`);
    /// `http://localhost/` (or `https://`) for a `unix://` address.
    pub address: reqwest::Url,
    /// The socket of a `unix:///path` `CONSUL_HTTP_ADDR` (hashicorp/consul `api/api.go`
    /// `NewClient`).
    pub unix_socket: Option<PathBuf>,
    /// HTTP basic auth (`CONSUL_HTTP_AUTH`, `user[:password]`).
    pub http_auth: Option<BasicAuth>,
    /// ACL token (`CONSUL_HTTP_TOKEN_FILE`, else `CONSUL_HTTP_TOKEN`), sent as `X-Consul-Token`.
    pub token: Option<Secret>,
    /// Namespace (`CONSUL_NAMESPACE`), sent as `?ns=`.
    pub namespace: Option<String>,
    /// Datacenter, sent as `?dc=`.
    pub datacenter: Option<String>,
    /// TLS (`CONSUL_CACERT`, `CONSUL_CLIENT_CERT`, `CONSUL_CLIENT_KEY`,
    /// `CONSUL_TLS_SERVER_NAME`, `CONSUL_HTTP_SSL_VERIFY=false`).
    pub tls: TlsConfig,
    /// Timeouts and retries.
    pub options: ClientOptions,
}

impl fmt::Debug for ConsulConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsulConfig")
            .field("address", &self.address.as_str())
            .field("unix_socket", &self.unix_socket)
            .field("http_auth", &self.http_auth)
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .field("namespace", &self.namespace)
            .field("datacenter", &self.datacenter)
            .field("tls", &self.tls)
            .field("options", &self.options)
            .finish()
    }
}

const TLS_FIELDS: TlsFields = TlsFields {
    ca_cert: "CONSUL_CACERT",
    ca_path: "CONSUL_CAPATH",
    client_cert: "CONSUL_CLIENT_CERT",
    client_key: "CONSUL_CLIENT_KEY",
};

impl ConsulConfig {
    /// A builder starting from the defaults (`http://127.0.0.1:8500`, no token).
    pub fn builder() -> ConsulConfigBuilder {
        ConsulConfigBuilder::default()
    }

    /// Reads the `consul` CLI's environment variables from the process environment.
    pub fn from_env() -> BackendResult<Self> {
        Self::from_env_with(process_env)
    }

    /// Reads the `consul` CLI's environment variables through `lookup`, as hashicorp/consul
    /// `api/api.go` `defaultConfig` and `NewClient` do: `CONSUL_HTTP_ADDR` (`host:port`,
    /// `http://`, `https://` or `unix://`), `CONSUL_HTTP_TOKEN_FILE` (wins over
    /// `CONSUL_HTTP_TOKEN`; read once and trimmed), `CONSUL_HTTP_AUTH`, `CONSUL_HTTP_SSL`,
    /// `CONSUL_CACERT`, `CONSUL_CAPATH`, `CONSUL_CLIENT_CERT`, `CONSUL_CLIENT_KEY`,
    /// `CONSUL_TLS_SERVER_NAME`, `CONSUL_HTTP_SSL_VERIFY`, `CONSUL_NAMESPACE`.
    pub fn from_env_with(lookup: impl Fn(&str) -> Option<String>) -> BackendResult<Self> {
        let lookup: &dyn Fn(&str) -> Option<String> = &lookup;
        let mut b = ConsulConfig::builder();
        if let Some(addr) = var(lookup, "CONSUL_HTTP_ADDR") {
            b = b.address(addr);
            b.address_field = "CONSUL_HTTP_ADDR";
        }
        if let Some(path) = var(lookup, "CONSUL_HTTP_TOKEN_FILE") {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                BackendError::config(
                    "CONSUL_HTTP_TOKEN_FILE",
                    format!("cannot read token file {path}: {e}"),
                )
            })?;
            b = b.token(text.trim().to_owned());
        } else if let Some(t) = var(lookup, "CONSUL_HTTP_TOKEN") {
            b = b.token(t);
        }
        if let Some(ssl) = bool_var(lookup, "CONSUL_HTTP_SSL")? {
            b = b.ssl(ssl);
        }
        if let Some(ns) = var(lookup, "CONSUL_NAMESPACE") {
            b = b.namespace(ns);
        }
        if let Some(auth) = var(lookup, "CONSUL_HTTP_AUTH") {
            b = b.http_auth(BasicAuth::parse(&auth));
        }
        b.tls.ca_cert = path_var(lookup, "CONSUL_CACERT");
        b.tls.ca_path = path_var(lookup, "CONSUL_CAPATH");
        b.tls.client_cert = path_var(lookup, "CONSUL_CLIENT_CERT");
        b.tls.client_key = path_var(lookup, "CONSUL_CLIENT_KEY");
        b.tls.server_name = var(lookup, "CONSUL_TLS_SERVER_NAME");
        if let Some(verify) = bool_var(lookup, "CONSUL_HTTP_SSL_VERIFY")? {
            b.tls.skip_verify = !verify;
        }
        b.build()
    }
}

/// Builds a [`ConsulConfig`].
#[derive(Clone)]
#[must_use]
pub struct ConsulConfigBuilder {
    address: String,
    address_field: &'static str,
    ssl: bool,
    token: Option<Secret>,
    http_auth: Option<BasicAuth>,
    namespace: Option<String>,
    datacenter: Option<String>,
    tls: TlsConfig,
    options: ClientOptions,
}

impl fmt::Debug for ConsulConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsulConfigBuilder")
            .field("address", &self.address)
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .field("http_auth", &self.http_auth)
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl Default for ConsulConfigBuilder {
    fn default() -> Self {
        ConsulConfigBuilder {
            address: DEFAULT_ADDRESS.into(),
            address_field: "address",
            ssl: false,
            token: None,
            http_auth: None,
            namespace: None,
            datacenter: None,
            tls: TlsConfig::default(),
            options: ClientOptions::default(),
        }
    }
}

impl ConsulConfigBuilder {
    /// Agent address: `host:port`, `http://host:port[/prefix]`, `https://...` or
    /// `unix:///path/to/consul.sock`.
    pub fn address(mut self, address: impl Into<String>) -> Self {
        self.address = address.into();
        self
    }

    /// Use HTTPS even when the address says `http` or has no scheme.
    pub fn ssl(mut self, ssl: bool) -> Self {
        self.ssl = ssl;
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

    /// Datacenter of every request.
    pub fn datacenter(mut self, dc: impl Into<String>) -> Self {
        self.datacenter = Some(dc.into());
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
    pub fn build(self) -> BackendResult<ConsulConfig> {
        let parsed = parse_address(self.address_field, &self.address, "http", Some("localhost"))?;
        let mut address = parsed.url;
        if self.ssl && address.scheme() == "http" {
            address.set_scheme("https").map_err(|()| {
                BackendError::config("CONSUL_HTTP_SSL", "cannot switch the address to https")
            })?;
        }
        if self.tls.client_cert.is_some() != self.tls.client_key.is_some() {
            return Err(BackendError::Tls {
                field: "CONSUL_CLIENT_CERT/CONSUL_CLIENT_KEY".into(),
                message: "both client cert and client key must be provided".into(),
            });
        }
        Ok(ConsulConfig {
            address,
            unix_socket: parsed.unix_socket,
            http_auth: self.http_auth,
            token: self.token,
            namespace: self.namespace,
            datacenter: self.datacenter,
            tls: self.tls,
            options: self.options,
        })
    }
}

/// The Consul API over HTTP.
#[derive(Clone)]
pub struct HttpConsul {
    transport: HttpTransport,
    ctx: ConsulContext,
}

impl fmt::Debug for HttpConsul {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpConsul")
            .field("transport", &self.transport)
            .field("namespace", &self.ctx.namespace)
            .field("datacenter", &self.ctx.datacenter)
            .field("token", &self.ctx.token.as_ref().map(|_| "[redacted]"))
            .field(
                "http_auth",
                &self.ctx.http_auth.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

impl HttpConsul {
    /// A client for `config` (reads the TLS files).
    pub fn new(config: &ConsulConfig) -> BackendResult<Self> {
        let auth_header = config.http_auth.as_ref().map(BasicAuth::header_value);
        let mut secrets: Vec<Secret> = config.token.iter().cloned().collect();
        if let (Some(a), Some(h)) = (&config.http_auth, &auth_header) {
            secrets.push(a.password.clone());
            secrets.push(h.clone());
        }
        let transport = HttpTransport::new(
            Service::Consul,
            vec![config.address.clone()],
            &config.tls,
            TLS_FIELDS,
            config.options.clone(),
            secrets,
            config.unix_socket.clone(),
        )?;
        Ok(HttpConsul {
            transport,
            ctx: ConsulContext {
                namespace: config.namespace.clone(),
                datacenter: config.datacenter.clone(),
                token: config.token.clone(),
                http_auth: auth_header,
            },
        })
    }

    /// A client configured from the process environment.
    pub fn from_env() -> BackendResult<Self> {
        Self::new(&ConsulConfig::from_env()?)
    }

    /// What every request carries.
    pub fn context(&self) -> &ConsulContext {
        &self.ctx
    }
}

#[async_trait]
impl Consul for HttpConsul {
    async fn register_service(
        &self,
        service: &ServiceRegistration,
        replace_existing_checks: bool,
    ) -> BackendResult<()> {
        let r = rq::register_service(&self.ctx, service, replace_existing_checks)?;
        self.transport.call(&r, rq::decode_empty).await
    }

    async fn deregister_service(&self, service_id: &str) -> BackendResult<()> {
        self.transport
            .call(
                &rq::deregister_service(&self.ctx, service_id),
                rq::decode_empty,
            )
            .await
    }

    async fn catalog_service(
        &self,
        name: &str,
        q: &QueryOptions,
    ) -> BackendResult<Indexed<Vec<CatalogService>>> {
        self.transport
            .call(&rq::catalog_service(&self.ctx, name, q), rq::decode_catalog)
            .await
    }

    async fn health_service(
        &self,
        name: &str,
        passing: bool,
        q: &QueryOptions,
    ) -> BackendResult<Indexed<Vec<ServiceEntry>>> {
        self.transport
            .call(
                &rq::health_service(&self.ctx, name, passing, q),
                rq::decode_health,
            )
            .await
    }

    async fn kv_get(&self, key: &str, q: &QueryOptions) -> BackendResult<Indexed<Option<KvPair>>> {
        let r = rq::kv_get(&self.ctx, key, q)?;
        self.transport.call(&r, rq::decode_kv_get).await
    }

    async fn kv_list(&self, prefix: &str, q: &QueryOptions) -> BackendResult<Indexed<Vec<KvPair>>> {
        self.transport
            .call(&rq::kv_list(&self.ctx, prefix, q), rq::decode_kv_list)
            .await
    }

    async fn kv_put(&self, key: &str, value: &[u8], cas: Option<u64>) -> BackendResult<bool> {
        let r = rq::kv_put(&self.ctx, key, value, cas)?;
        self.transport.call(&r, rq::decode_bool).await
    }

    async fn kv_delete(&self, key: &str, cas: Option<u64>) -> BackendResult<bool> {
        let r = rq::kv_delete(&self.ctx, key, cas)?;
        self.transport.call(&r, rq::decode_bool).await
    }

    async fn kv_acquire(&self, key: &str, value: &[u8], session: &str) -> BackendResult<bool> {
        let r = rq::kv_lock(&self.ctx, key, value, session, false)?;
        self.transport.call(&r, rq::decode_bool).await
    }

    async fn kv_release(&self, key: &str, value: &[u8], session: &str) -> BackendResult<bool> {
        let r = rq::kv_lock(&self.ctx, key, value, session, true)?;
        self.transport.call(&r, rq::decode_bool).await
    }

    async fn session_create(&self, session: &SessionRequest) -> BackendResult<String> {
        self.transport
            .call(
                &rq::session_create(&self.ctx, session),
                rq::decode_session_create,
            )
            .await
    }

    async fn session_renew(&self, id: &str) -> BackendResult<Option<SessionInfo>> {
        self.transport
            .call(&rq::session_renew(&self.ctx, id), rq::decode_session_renew)
            .await
    }

    async fn session_destroy(&self, id: &str) -> BackendResult<()> {
        self.transport
            .call(&rq::session_destroy(&self.ctx, id), |req, resp| {
                rq::decode_bool(req, resp).map(|_| ())
            })
            .await
    }

    async fn session_info(
        &self,
        id: &str,
        q: &QueryOptions,
    ) -> BackendResult<Indexed<Option<SessionInfo>>> {
        self.transport
            .call(&rq::session_info(&self.ctx, id, q), rq::decode_session_info)
            .await
    }

    async fn txn(&self, ops: &[TxnOp]) -> BackendResult<TxnResponse> {
        let r = rq::txn(&self.ctx, ops)?;
        self.transport.call(&r, rq::decode_txn).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::HashMap;
    use std::io::Write;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn defaults_and_prefixes() {
        let c = ConsulConfig::from_env_with(env(&[])).unwrap();
        assert_eq!(c.address.as_str(), "http://127.0.0.1:8500/");
        let c = ConsulConfig::from_env_with(env(&[
            ("CONSUL_HTTP_ADDR", "consul.service:8500"),
            ("CONSUL_HTTP_SSL", "true"),
        ]))
        .unwrap();
        assert_eq!(c.address.as_str(), "https://consul.service:8500/");
        let c = ConsulConfig::from_env_with(env(&[
            ("CONSUL_HTTP_ADDR", "https://c:8501/consul"),
            ("CONSUL_HTTP_SSL", "false"),
        ]))
        .unwrap();
        assert_eq!(
            c.address.as_str(),
            "https://c:8501/consul",
            "https is never downgraded"
        );
        let c = ConsulConfig::from_env_with(env(&[
            ("CONSUL_HTTP_ADDR", "unix:///run/consul.sock"),
            ("CONSUL_HTTP_AUTH", "admin"),
            ("CONSUL_CAPATH", "/etc/consul/cas"),
        ]))
        .unwrap();
        assert_eq!(c.address.as_str(), "http://localhost/");
        assert_eq!(
            c.unix_socket.as_deref(),
            Some(std::path::Path::new("/run/consul.sock"))
        );
        assert_eq!(c.http_auth, Some(BasicAuth::new("admin", "")));
        assert_eq!(
            c.tls.ca_path.as_deref(),
            Some(std::path::Path::new("/etc/consul/cas"))
        );
        let e = ConsulConfig::from_env_with(env(&[("CONSUL_HTTP_ADDR", "tcp://c:1")])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid setting CONSUL_HTTP_ADDR: unknown protocol scheme \"tcp\""
        );
        let c = ConsulConfig::from_env_with(env(&[("CONSUL_HTTP_AUTH", "ops:pw-123")])).unwrap();
        assert!(!format!("{c:?}").contains("pw-123"));
    }

    #[test]
    fn token_file_wins_and_is_trimmed() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        writeln!(f, "  file-token  ").unwrap();
        let path = f.path().to_str().unwrap().to_owned();
        let c = ConsulConfig::from_env_with(env(&[
            ("CONSUL_HTTP_TOKEN", "env-token"),
            ("CONSUL_HTTP_TOKEN_FILE", &path),
        ]))
        .unwrap();
        assert_eq!(c.token, Some(Secret::new("file-token")));
        let c = ConsulConfig::from_env_with(env(&[("CONSUL_HTTP_TOKEN", "env-token")])).unwrap();
        assert_eq!(c.token, Some(Secret::new("env-token")));
        let e =
            ConsulConfig::from_env_with(env(&[("CONSUL_HTTP_TOKEN_FILE", "/nonexistent/token")]))
                .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("invalid setting CONSUL_HTTP_TOKEN_FILE: cannot read token file"),
            "{e}"
        );
    }

    #[test]
    fn cert_and_key_together() {
        let e = ConsulConfig::from_env_with(env(&[("CONSUL_CLIENT_KEY", "/k.pem")])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "TLS setting CONSUL_CLIENT_CERT/CONSUL_CLIENT_KEY: both client cert and client key must be provided"
        );
        let c = ConsulConfig::from_env_with(env(&[
            ("CONSUL_CLIENT_KEY", "/k.pem"),
            ("CONSUL_CLIENT_CERT", "/c.pem"),
            ("CONSUL_CACERT", "/ca.pem"),
            ("CONSUL_NAMESPACE", "team-a"),
            ("CONSUL_HTTP_SSL_VERIFY", "false"),
        ]))
        .unwrap();
        assert_eq!(c.namespace.as_deref(), Some("team-a"));
        assert!(c.tls.skip_verify);
        assert_eq!(
            c.tls.client_key.as_deref(),
            Some(std::path::Path::new("/k.pem"))
        );
    }
}
