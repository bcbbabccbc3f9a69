//! The etcd client over the v3 JSON gateway, configured like `etcdctl`.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::Mutex;

use super::requests::{self as rq, is_auth_error};
use super::types::{
    DeleteRangeRequest, DeleteRangeResponse, LeaseGrantResponse, LeaseKeepAliveResponse,
    MemberListResponse, PutRequest, PutResponse, RangeRequest, RangeResponse, ResponseHeader,
    StatusResponse, TxnRequest, TxnResponse,
};
use super::Etcd;
use crate::backend::env::{bool_var, parse_address, path_var, process_env, var};
use crate::backend::request::{redact_error, Request, Response};
use crate::backend::transport::{HttpTransport, TlsFields};
use crate::backend::{BackendError, BackendResult, ClientOptions, Secret, Service, TlsConfig};

/// Default etcd endpoint.
pub const DEFAULT_ENDPOINT: &str = "127.0.0.1:2379";

/// Settings of an etcd client.
#[derive(Clone, PartialEq, Eq)]
pub struct EtcdConfig {
    /// Members to talk to, in failover order (`ETCDCTL_ENDPOINTS`).
    pub endpoints: Vec<reqwest::Url>,
    /// User name and password (`ETCDCTL_USER=name:password`, or `ETCDCTL_USER=name` with
    /// `ETCDCTL_PASSWORD`).
    pub user: Option<(String, Secret)>,
    /// TLS (`ETCDCTL_CACERT`, `ETCDCTL_CERT`, `ETCDCTL_KEY`,
    /// `ETCDCTL_INSECURE_SKIP_TLS_VERIFY`).
    pub tls: TlsConfig,
    /// Timeouts and retries.
    pub options: ClientOptions,
}

impl fmt::Debug for EtcdConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EtcdConfig")
            .field(
                "endpoints",
                &self
                    .endpoints
                    .iter()
                    .map(reqwest::Url::as_str)
                    .collect::<Vec<_>>(),
            )
            .field(
                "user",
                &self
                    .user
                    .as_ref()
                    .map(|(name, _)| (name.as_str(), "[redacted]")),
            )
            .field("tls", &self.tls)
            .field("options", &self.options)
            .finish()
    }
}

const TLS_FIELDS: TlsFields = TlsFields {
    ca_cert: "ETCDCTL_CACERT",
    ca_path: "ETCDCTL_CACERT",
    client_cert: "ETCDCTL_CERT",
    client_key: "ETCDCTL_KEY",
};

impl EtcdConfig {
    /// A builder starting from the defaults (`http://127.0.0.1:2379`, no user).
    pub fn builder() -> EtcdConfigBuilder {
        EtcdConfigBuilder::default()
    }

    /// Reads `etcdctl`'s environment variables from the process environment.
    pub fn from_env() -> BackendResult<Self> {
        Self::from_env_with(process_env)
    }

    /// Reads `etcdctl`'s environment variables through `lookup`.
    pub fn from_env_with(lookup: impl Fn(&str) -> Option<String>) -> BackendResult<Self> {
        let lookup: &dyn Fn(&str) -> Option<String> = &lookup;
        let mut b = EtcdConfig::builder();
        if let Some(eps) = var(lookup, "ETCDCTL_ENDPOINTS") {
            b.endpoints = eps
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect();
            b.endpoints_field = "ETCDCTL_ENDPOINTS";
        }
        if let Some(user) = var(lookup, "ETCDCTL_USER") {
            match user.split_once(':') {
                Some((name, password)) => b = b.user(name, password),
                None => match var(lookup, "ETCDCTL_PASSWORD") {
                    Some(password) => b = b.user(user, password),
                    None => {
                        return Err(BackendError::config(
                            "ETCDCTL_USER",
                            "expected name:password (or set ETCDCTL_PASSWORD)",
                        ))
                    }
                },
            }
        }
        b.tls.ca_cert = path_var(lookup, "ETCDCTL_CACERT");
        b.tls.client_cert = path_var(lookup, "ETCDCTL_CERT");
        b.tls.client_key = path_var(lookup, "ETCDCTL_KEY");
        b.tls.skip_verify = bool_var(lookup, "ETCDCTL_INSECURE_SKIP_TLS_VERIFY")?.unwrap_or(false);
        b.build()
    }
}

/// Builds an [`EtcdConfig`].
#[derive(Clone)]
#[must_use]
pub struct EtcdConfigBuilder {
    endpoints: Vec<String>,
    endpoints_field: &'static str,
    user: Option<(String, Secret)>,
    tls: TlsConfig,
    options: ClientOptions,
}

impl fmt::Debug for EtcdConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EtcdConfigBuilder")
            .field("endpoints", &self.endpoints)
            .field(
                "user",
                &self
                    .user
                    .as_ref()
                    .map(|(name, _)| (name.as_str(), "[redacted]")),
            )
            .finish_non_exhaustive()
    }
}

impl Default for EtcdConfigBuilder {
    fn default() -> Self {
        EtcdConfigBuilder {
            endpoints: vec![DEFAULT_ENDPOINT.into()],
            endpoints_field: "endpoints",
            user: None,
            tls: TlsConfig::default(),
            options: ClientOptions::default(),
        }
    }
}

impl EtcdConfigBuilder {
    /// Members to talk to (`host:port` or `http(s)://host:port`), in failover order.
    pub fn endpoints<S: Into<String>>(mut self, endpoints: impl IntoIterator<Item = S>) -> Self {
        self.endpoints = endpoints.into_iter().map(Into::into).collect();
        self
    }

    /// Authenticates as `name` with `password`.
    pub fn user(mut self, name: impl Into<String>, password: impl Into<Secret>) -> Self {
        self.user = Some((name.into(), password.into()));
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

    /// Checks the endpoints and the TLS pairing. Endpoints without a scheme use https when
    /// TLS material is given, http otherwise.
    pub fn build(self) -> BackendResult<EtcdConfig> {
        if self.endpoints.is_empty() {
            return Err(BackendError::config(
                self.endpoints_field,
                "no endpoint given",
            ));
        }
        let scheme = if self.tls.ca_cert.is_some() || self.tls.client_cert.is_some() {
            "https"
        } else {
            "http"
        };
        let endpoints = self
            .endpoints
            .iter()
            .map(|e| parse_address(self.endpoints_field, e, scheme, None).map(|a| a.url))
            .collect::<BackendResult<Vec<_>>>()?;
        if self.tls.client_cert.is_some() != self.tls.client_key.is_some() {
            return Err(BackendError::Tls {
                field: "ETCDCTL_CERT/ETCDCTL_KEY".into(),
                message: "both client cert and client key must be provided".into(),
            });
        }
        if let Some((name, _)) = &self.user {
            if name.is_empty() {
                return Err(BackendError::config(
                    "ETCDCTL_USER",
                    "the user name is empty",
                ));
            }
        }
        Ok(EtcdConfig {
            endpoints,
            user: self.user,
            tls: self.tls,
            options: self.options,
        })
    }
}

/// The etcd v3 API over the JSON gateway. With a user, it authenticates on first use, sends
/// the token as `Authorization`, and re-authenticates once when the token is refused.
#[derive(Clone)]
pub struct HttpEtcd {
    transport: HttpTransport,
    user: Option<(String, Secret)>,
    token: Arc<Mutex<Option<Secret>>>,
}

impl fmt::Debug for HttpEtcd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpEtcd")
            .field("transport", &self.transport)
            .field(
                "user",
                &self
                    .user
                    .as_ref()
                    .map(|(name, _)| (name.as_str(), "[redacted]")),
            )
            .finish_non_exhaustive()
    }
}

impl HttpEtcd {
    /// A client for `config` (reads the TLS files).
    pub fn new(config: &EtcdConfig) -> BackendResult<Self> {
        let transport = HttpTransport::new(
            Service::Etcd,
            config.endpoints.clone(),
            &config.tls,
            TLS_FIELDS,
            config.options.clone(),
            config.user.iter().map(|(_, p)| p.clone()).collect(),
            None,
        )?;
        Ok(HttpEtcd {
            transport,
            user: config.user.clone(),
            token: Arc::new(Mutex::new(None)),
        })
    }

    /// A client configured from the process environment.
    pub fn from_env() -> BackendResult<Self> {
        Self::new(&EtcdConfig::from_env()?)
    }

    /// The endpoints, in failover order.
    pub fn endpoints(&self) -> &[reqwest::Url] {
        self.transport.endpoints()
    }

    async fn token(&self, refresh: bool) -> BackendResult<Option<Secret>> {
        let Some((name, password)) = &self.user else {
            return Ok(None);
        };
        let mut guard = self.token.lock().await;
        if refresh {
            *guard = None;
        }
        if let Some(t) = guard.as_ref() {
            return Ok(Some(t.clone()));
        }
        let t = self
            .transport
            .call(&rq::authenticate(name, password), rq::decode_authenticate)
            .await?;
        tracing::debug!(service = "etcd", user = %name, "authenticated");
        *guard = Some(t.clone());
        Ok(Some(t))
    }

    /// Builds the request with the current token, runs it, and on an auth error gets a new
    /// token and runs it once more.
    async fn call<T>(
        &self,
        build: impl Fn(Option<&Secret>) -> BackendResult<Request>,
        decode: fn(&Request, &Response) -> BackendResult<T>,
    ) -> BackendResult<T> {
        let token = self.token(false).await?;
        let req = build(token.as_ref())?;
        let first = self.transport.call(&req, decode).await;
        let result = match first {
            Err(e) if self.user.is_some() && is_auth_error(&e) => {
                tracing::debug!(service = "etcd", "token refused, authenticating again");
                let token = self.token(true).await?;
                let req = build(token.as_ref())?;
                self.transport.call(&req, decode).await
            }
            other => other,
        };
        match (&result, self.token.lock().await.as_ref()) {
            (Err(_), Some(t)) => result.map_err(|e| redact_error(e, &[t])),
            _ => result,
        }
    }
}

#[async_trait]
impl Etcd for HttpEtcd {
    async fn range(&self, req: &RangeRequest) -> BackendResult<RangeResponse> {
        self.call(|t| rq::range(req, t), rq::decode_range).await
    }

    async fn put(&self, req: &PutRequest) -> BackendResult<PutResponse> {
        self.call(|t| rq::put(req, t), rq::decode_put).await
    }

    async fn delete_range(&self, req: &DeleteRangeRequest) -> BackendResult<DeleteRangeResponse> {
        self.call(|t| rq::delete_range(req, t), rq::decode_delete_range)
            .await
    }

    async fn txn(&self, req: &TxnRequest) -> BackendResult<TxnResponse> {
        self.call(|t| rq::txn(req, t), rq::decode_txn).await
    }

    async fn lease_grant(&self, ttl: i64) -> BackendResult<LeaseGrantResponse> {
        self.call(|t| rq::lease_grant(ttl, t), rq::decode_lease_grant)
            .await
    }

    async fn lease_keepalive(&self, id: i64) -> BackendResult<LeaseKeepAliveResponse> {
        self.call(
            |t| Ok(rq::lease_keepalive(id, t)),
            rq::decode_lease_keepalive,
        )
        .await
    }

    async fn lease_revoke(&self, id: i64) -> BackendResult<ResponseHeader> {
        self.call(|t| Ok(rq::lease_revoke(id, t)), rq::decode_lease_revoke)
            .await
    }

    async fn status(&self) -> BackendResult<StatusResponse> {
        self.call(|t| Ok(rq::status(t)), rq::decode_status).await
    }

    async fn member_list(&self) -> BackendResult<MemberListResponse> {
        self.call(|t| Ok(rq::member_list(t)), rq::decode_member_list)
            .await
    }

    async fn health(&self) -> BackendResult<bool> {
        self.transport.call(&rq::health(), rq::decode_health).await
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
    fn endpoints_and_user() {
        let c = EtcdConfig::from_env_with(env(&[])).unwrap();
        assert_eq!(
            c.endpoints.iter().map(|u| u.as_str()).collect::<Vec<_>>(),
            vec!["http://127.0.0.1:2379/"]
        );
        let c = EtcdConfig::from_env_with(env(&[
            ("ETCDCTL_ENDPOINTS", "10.0.0.1:2379, https://10.0.0.2:2379"),
            ("ETCDCTL_USER", "root:pa:ss"),
        ]))
        .unwrap();
        assert_eq!(
            c.endpoints.iter().map(|u| u.as_str()).collect::<Vec<_>>(),
            vec!["http://10.0.0.1:2379/", "https://10.0.0.2:2379/"]
        );
        assert_eq!(c.user, Some(("root".to_owned(), Secret::new("pa:ss"))));
        assert!(!format!("{c:?}").contains("pa:ss"));
        let c = EtcdConfig::from_env_with(env(&[
            ("ETCDCTL_CACERT", "/ca.pem"),
            ("ETCDCTL_ENDPOINTS", "e1:2379"),
        ]))
        .unwrap();
        assert_eq!(c.endpoints[0].as_str(), "https://e1:2379/");
    }

    #[test]
    fn bad_user_and_tls_pairs() {
        let e = EtcdConfig::from_env_with(env(&[("ETCDCTL_USER", "root")])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid setting ETCDCTL_USER: expected name:password (or set ETCDCTL_PASSWORD)"
        );
        let c =
            EtcdConfig::from_env_with(env(&[("ETCDCTL_USER", "root"), ("ETCDCTL_PASSWORD", "pw")]))
                .unwrap();
        assert_eq!(c.user, Some(("root".to_owned(), Secret::new("pw"))));
        let e = EtcdConfig::from_env_with(env(&[("ETCDCTL_CERT", "/c.pem")])).unwrap_err();
        assert_eq!(e.to_string(), "TLS setting ETCDCTL_CERT/ETCDCTL_KEY: both client cert and client key must be provided");
        let e = EtcdConfig::from_env_with(env(&[("ETCDCTL_ENDPOINTS", "ftp://x:1")])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid setting ETCDCTL_ENDPOINTS: unknown protocol scheme \"ftp\""
        );
    }
}
