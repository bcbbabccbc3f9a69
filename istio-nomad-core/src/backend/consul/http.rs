//! The Consul client over HTTP, configured like the `consul` CLI.

use std::fmt;

use async_trait::async_trait;

use super::requests::{self as rq, ConsulContext};
use super::types::{CatalogService, KvPair, ServiceEntry, ServiceRegistration};
use super::Consul;
use crate::backend::env::{bool_var, parse_address, path_var, process_env, var};
use crate::backend::transport::{HttpTransport, TlsFields};
use crate::backend::{
    BackendError, BackendResult, ClientOptions, Indexed, QueryOptions, Secret, Service, TlsConfig,
};

/// Default Consul address.
pub const DEFAULT_ADDRESS: &str = "127.0.0.1:8500";

/// Settings of a Consul client.
#[derive(Clone, PartialEq, Eq)]
pub struct ConsulConfig {
    /// Base address, path prefix included (`CONSUL_HTTP_ADDR`, scheme from `CONSUL_HTTP_SSL`).
    pub address: reqwest::Url,
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

    /// Reads the `consul` CLI's environment variables through `lookup`. The token file
    /// (`CONSUL_HTTP_TOKEN_FILE`) wins over `CONSUL_HTTP_TOKEN`; it is read once and trimmed.
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
        b.tls.ca_cert = path_var(lookup, "CONSUL_CACERT");
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
            namespace: None,
            datacenter: None,
            tls: TlsConfig::default(),
            options: ClientOptions::default(),
        }
    }
}

impl ConsulConfigBuilder {
    /// Agent address: `host:port`, `http://host:port[/prefix]` or `https://...`.
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
        let mut address = parse_address(self.address_field, &self.address, "http")?;
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
            .finish()
    }
}

impl HttpConsul {
    /// A client for `config` (reads the TLS files).
    pub fn new(config: &ConsulConfig) -> BackendResult<Self> {
        let transport = HttpTransport::new(
            Service::Consul,
            vec![config.address.clone()],
            &config.tls,
            TLS_FIELDS,
            config.options.clone(),
            config.token.iter().cloned().collect(),
        )?;
        Ok(HttpConsul {
            transport,
            ctx: ConsulContext {
                namespace: config.namespace.clone(),
                datacenter: config.datacenter.clone(),
                token: config.token.clone(),
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
        let e =
            ConsulConfig::from_env_with(env(&[("CONSUL_HTTP_ADDR", "unix:///run/consul.sock")]))
                .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("invalid setting CONSUL_HTTP_ADDR: unix socket"),
            "{e}"
        );
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
