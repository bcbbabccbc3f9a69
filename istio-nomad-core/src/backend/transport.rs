//! Executes [`Request`]s over HTTP(S): TLS, timeouts, retries with backoff and jitter,
//! endpoint failover, and redaction of tokens from errors.

use std::fmt;
use std::net::ToSocketAddrs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;

use super::request::{redact_error, Body, Request, Response};
use super::{BackendError, Secret, Service};

/// When and how often a failed call is repeated.
///
/// A connection failure (the server cannot have received the request) is retried for every
/// call. A 429, a 5xx or a timeout is retried only when the request is idempotent, except
/// that a Nomad 429 is retried for every call and a Nomad job validation 500 for none (see
/// [`super::request::Request::may_retry_answer`]). The delay
/// doubles from `base_delay` up to `max_delay`, with random jitter (half to full delay); a
/// 429's `Retry-After` (seconds) is honoured up to `max_delay`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts, the first one included (1 means never retry).
    pub max_attempts: u32,
    /// Delay before the first retry.
    pub base_delay: Duration,
    /// Longest delay between attempts.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(3),
        }
    }
}

impl RetryPolicy {
    /// The default policy: 4 attempts, 100 ms doubling up to 3 s.
    pub fn new() -> Self {
        Self::default()
    }

    /// Never retry.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Sets the total number of attempts (at least 1).
    #[must_use]
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// Sets the delay before the first retry.
    #[must_use]
    pub fn base_delay(mut self, d: Duration) -> Self {
        self.base_delay = d;
        self
    }

    /// Sets the longest delay.
    #[must_use]
    pub fn max_delay(mut self, d: Duration) -> Self {
        self.max_delay = d;
        self
    }

    /// The delay before retry number `retry` (1-based), with jitter.
    pub fn delay(&self, retry: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << retry.saturating_sub(1).min(20));
        let full = exp.min(self.max_delay);
        let half = full / 2;
        let spread = (full - half).as_micros() as u64;
        let jitter = if spread == 0 {
            0
        } else {
            rand::rng().random_range(0..=spread)
        };
        half + Duration::from_micros(jitter)
    }
}

/// TLS settings shared by the three clients.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsConfig {
    /// PEM file of CA certificates to trust (when set, only these).
    pub ca_cert: Option<PathBuf>,
    /// Directory of PEM CA certificate files to trust, walked recursively; ignored when
    /// `ca_cert` is set (hashicorp/go-rootcerts `LoadCACerts`, `LoadCAPath`, used by the
    /// Nomad and Consul clients for `NOMAD_CAPATH` / `CONSUL_CAPATH`).
    pub ca_path: Option<PathBuf>,
    /// PEM client certificate (with `client_key`).
    pub client_cert: Option<PathBuf>,
    /// PEM private key of the client certificate.
    pub client_key: Option<PathBuf>,
    /// Name to verify the server certificate against (and to send as SNI).
    pub server_name: Option<String>,
    /// Accept any server certificate (testing only).
    pub skip_verify: bool,
}

/// Names of the settings behind a [`TlsConfig`], used in error messages.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TlsFields {
    pub ca_cert: &'static str,
    pub ca_path: &'static str,
    pub client_cert: &'static str,
    pub client_key: &'static str,
}

/// Timeouts and retries of a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOptions {
    /// Time allowed for one attempt (a blocking query gets its wait added).
    pub timeout: Duration,
    /// Time allowed to open a connection.
    pub connect_timeout: Duration,
    /// Retry policy.
    pub retry: RetryPolicy,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
        }
    }
}

impl ClientOptions {
    /// 30 s per attempt, 5 s to connect, the default retry policy.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the per-attempt timeout.
    #[must_use]
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = d;
        self
    }

    /// Sets the connect timeout.
    #[must_use]
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }

    /// Sets the retry policy.
    #[must_use]
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }
}

/// Sends [`Request`]s to one of a list of endpoints.
#[derive(Clone)]
pub struct HttpTransport {
    service: Service,
    client: reqwest::Client,
    endpoints: Arc<Vec<reqwest::Url>>,
    current: Arc<AtomicUsize>,
    options: ClientOptions,
    secrets: Arc<Vec<Secret>>,
    unix_socket: Option<PathBuf>,
}

impl fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpTransport")
            .field("service", &self.service)
            .field(
                "endpoints",
                &self
                    .endpoints
                    .iter()
                    .map(reqwest::Url::as_str)
                    .collect::<Vec<_>>(),
            )
            .field("unix_socket", &self.unix_socket)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// Every certificate in the PEM files under `dir` (recursively, in name order). A file that
/// holds no PEM certificate is an error naming it, as in go-rootcerts `LoadCAPath`.
fn ca_dir_certificates(
    field: &str,
    dir: &std::path::Path,
) -> Result<Vec<reqwest::Certificate>, BackendError> {
    let tls_err = |message: String| BackendError::Tls {
        field: field.to_owned(),
        message,
    };
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&d)
            .map_err(|e| tls_err(format!("cannot read directory {}: {e}", d.display())))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let pem = read_file(field, &path)?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).unwrap_or_default();
            if certs.is_empty() {
                return Err(tls_err(format!(
                    "{} in the CA directory holds no PEM certificate",
                    path.display()
                )));
            }
            out.extend(certs);
        }
    }
    if out.is_empty() {
        return Err(tls_err(format!("{} holds no certificate", dir.display())));
    }
    Ok(out)
}

fn read_file(field: &str, path: &PathBuf) -> Result<Vec<u8>, BackendError> {
    std::fs::read(path).map_err(|e| BackendError::Tls {
        field: field.to_owned(),
        message: format!("cannot read {}: {e}", path.display()),
    })
}

impl HttpTransport {
    /// A transport to `endpoints` (tried in order; a connection failure moves to the next),
    /// or, with `unix_socket`, to the one endpoint through that socket. `secrets` are
    /// scrubbed from every error message.
    ///
    /// Sockets use reqwest's own `ClientBuilder::unix_socket` (reqwest 0.12.28), so TLS,
    /// timeouts and retries are the same as over TCP.
    pub(crate) fn new(
        service: Service,
        endpoints: Vec<reqwest::Url>,
        tls: &TlsConfig,
        fields: TlsFields,
        options: ClientOptions,
        secrets: Vec<Secret>,
        unix_socket: Option<PathBuf>,
    ) -> Result<Self, BackendError> {
        if endpoints.is_empty() {
            return Err(BackendError::config(
                format!("{service} address"),
                "no endpoint given",
            ));
        }
        let mut builder = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            .use_rustls_tls()
            .user_agent(concat!("istio-nomad/", env!("CARGO_PKG_VERSION")));
        if let Some(ca) = &tls.ca_cert {
            let pem = read_file(fields.ca_cert, ca)?;
            let certs =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| BackendError::Tls {
                    field: fields.ca_cert.to_owned(),
                    message: format!("{} is not a PEM certificate bundle: {e}", ca.display()),
                })?;
            if certs.is_empty() {
                return Err(BackendError::Tls {
                    field: fields.ca_cert.to_owned(),
                    message: format!("{} holds no certificate", ca.display()),
                });
            }
            builder = builder.tls_built_in_root_certs(false);
            for c in certs {
                builder = builder.add_root_certificate(c);
            }
        } else if let Some(dir) = &tls.ca_path {
            builder = builder.tls_built_in_root_certs(false);
            for c in ca_dir_certificates(fields.ca_path, dir)? {
                builder = builder.add_root_certificate(c);
            }
        }
        match (&tls.client_cert, &tls.client_key) {
            (Some(cert), Some(key)) => {
                let mut pem = read_file(fields.client_cert, cert)?;
                pem.push(b'\n');
                pem.extend(read_file(fields.client_key, key)?);
                let id = reqwest::Identity::from_pem(&pem).map_err(|e| BackendError::Tls {
                    field: format!("{}/{}", fields.client_cert, fields.client_key),
                    message: format!("not a PEM certificate and private key: {e}"),
                })?;
                builder = builder.identity(id);
            }
            (None, None) => {}
            _ => {
                return Err(BackendError::Tls {
                    field: format!("{}/{}", fields.client_cert, fields.client_key),
                    message: "both client cert and client key must be provided".into(),
                })
            }
        }
        if tls.skip_verify {
            builder = builder.danger_accept_invalid_certs(true);
        }
        let mut endpoints = endpoints;
        if let Some(name) = tls.server_name.as_deref().filter(|n| !n.is_empty()) {
            // Verify the certificate against `name`: address the server by that name and pin
            // the name to the configured address's IPs.
            let name = name.split(':').next().unwrap_or(name).to_owned();
            for url in &mut endpoints {
                let host = url
                    .host_str()
                    .unwrap_or_default()
                    .trim_matches(['[', ']'])
                    .to_owned();
                let port = url.port_or_known_default().unwrap_or(443);
                let addrs: Vec<_> = (host.as_str(), port)
                    .to_socket_addrs()
                    .map_err(|e| {
                        BackendError::config(
                            format!("{service} address"),
                            format!("cannot resolve {host}: {e}"),
                        )
                    })?
                    .collect();
                builder = builder.resolve_to_addrs(&name, &addrs);
                url.set_host(Some(&name)).map_err(|e| BackendError::Tls {
                    field: "server name".into(),
                    message: format!("{name:?}: {e}"),
                })?;
            }
        }
        #[cfg(unix)]
        if let Some(path) = &unix_socket {
            builder = builder.unix_socket(path.as_path());
        }
        #[cfg(not(unix))]
        if unix_socket.is_some() {
            return Err(BackendError::config(
                format!("{service} address"),
                "unix sockets need a Unix system",
            ));
        }
        let client = builder.build().map_err(|e| BackendError::Tls {
            field: format!("{service} client"),
            message: e.to_string(),
        })?;
        Ok(HttpTransport {
            service,
            client,
            endpoints: Arc::new(endpoints),
            current: Arc::new(AtomicUsize::new(0)),
            options,
            secrets: Arc::new(secrets.into_iter().filter(|s| !s.is_empty()).collect()),
            unix_socket,
        })
    }

    /// The endpoints, in failover order.
    pub fn endpoints(&self) -> &[reqwest::Url] {
        &self.endpoints
    }

    /// The timeouts and retry policy.
    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    fn url(&self, base: &reqwest::Url, req: &Request) -> Result<reqwest::Url, BackendError> {
        let prefix = base.path().trim_end_matches('/');
        let mut url = base.clone();
        url.set_path(&format!("{prefix}{}", req.path));
        if !req.query.is_empty() {
            let mut q = url.query_pairs_mut();
            for (k, v) in &req.query {
                q.append_pair(k, v);
            }
        }
        Ok(url)
    }

    fn redact(&self, e: BackendError) -> BackendError {
        let secrets: Vec<&Secret> = self.secrets.iter().collect();
        redact_error(e, &secrets)
    }

    /// Sends the request, retrying as the policy allows; returns the final answer whatever
    /// its status.
    pub async fn send(&self, req: &Request) -> Result<Response, BackendError> {
        self.send_inner(req).await.map_err(|e| self.redact(e))
    }

    /// Sends the request and decodes the answer with `decode` (a pure function from the
    /// `requests` module); errors have secrets scrubbed.
    pub async fn call<T>(
        &self,
        req: &Request,
        decode: impl FnOnce(&Request, &Response) -> Result<T, BackendError>,
    ) -> Result<T, BackendError> {
        let resp = self.send(req).await?;
        decode(req, &resp).map_err(|e| self.redact(e))
    }

    async fn send_inner(&self, req: &Request) -> Result<Response, BackendError> {
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let last = attempt >= self.options.retry.max_attempts;
            let idx = self.current.load(Ordering::Relaxed) % self.endpoints.len();
            let base = &self.endpoints[idx];
            let url = self.url(base, req)?;
            let timeout = self.options.timeout + req.hold;
            match self.attempt(req, url, timeout).await {
                Ok(resp) => {
                    tracing::debug!(service = %req.service, method = %req.method, path = %req.path, status = resp.status, attempt, "answer");
                    if req.may_retry_answer(&resp) && !last {
                        let mut delay = self.options.retry.delay(attempt);
                        if resp.status == 429 {
                            if let Some(secs) = resp
                                .header("retry-after")
                                .and_then(|v| v.trim().parse::<u64>().ok())
                            {
                                delay = Duration::from_secs(secs).min(self.options.retry.max_delay);
                            }
                        }
                        tracing::warn!(service = %req.service, method = %req.method, path = %req.path, status = resp.status, attempt, delay_ms = delay.as_millis() as u64, "retrying after transient answer");
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                    return Ok(resp);
                }
                Err((err, unsent)) => {
                    if unsent && self.endpoints.len() > 1 {
                        let _ = self.current.compare_exchange(
                            idx,
                            idx + 1,
                            Ordering::Relaxed,
                            Ordering::Relaxed,
                        );
                    }
                    let may_retry = unsent || req.idempotent;
                    if may_retry && !last {
                        let delay = self.options.retry.delay(attempt);
                        tracing::warn!(service = %req.service, method = %req.method, path = %req.path, attempt, delay_ms = delay.as_millis() as u64, error = %err, "retrying after failure");
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                    tracing::debug!(service = %req.service, method = %req.method, path = %req.path, attempt, error = %err, "giving up");
                    return Err(err);
                }
            }
        }
    }

    /// One attempt. On failure also says whether the request certainly never reached the
    /// server (connection not established).
    async fn attempt(
        &self,
        req: &Request,
        url: reqwest::Url,
        timeout: Duration,
    ) -> Result<Response, (BackendError, bool)> {
        let endpoint = match &self.unix_socket {
            Some(p) => format!("unix://{}", p.display()),
            None => url.origin().ascii_serialization(),
        };
        let method = match req.method {
            super::request::Method::Get => reqwest::Method::GET,
            super::request::Method::Put => reqwest::Method::PUT,
            super::request::Method::Post => reqwest::Method::POST,
            super::request::Method::Delete => reqwest::Method::DELETE,
        };
        let mut rb = self.client.request(method, url).timeout(timeout);
        for (name, value) in &req.headers {
            let mut hv = reqwest::header::HeaderValue::from_str(value.expose()).map_err(|_| {
                (
                    BackendError::InvalidRequest {
                        service: req.service,
                        field: format!("header {name}"),
                        message: "value contains characters not allowed in a header".into(),
                    },
                    false,
                )
            })?;
            if matches!(value, super::request::HeaderValue::Secret(_)) {
                hv.set_sensitive(true);
            }
            rb = rb.header(name.as_str(), hv);
        }
        rb = match &req.body {
            Body::Empty => rb,
            Body::Json(v) => rb
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(v.to_string()),
            Body::Bytes(b) => rb.body(b.clone()),
            Body::SecretJson(s) => rb
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(s.expose().to_owned()),
        };
        let classify = |e: reqwest::Error| -> (BackendError, bool) {
            if e.is_timeout() {
                let unsent = e.is_connect();
                (
                    BackendError::Timeout {
                        service: req.service,
                        method: req.method,
                        path: req.path.clone(),
                        after: timeout,
                    },
                    unsent,
                )
            } else {
                let unsent = e.is_connect();
                let message = error_chain(&e);
                (
                    BackendError::Connect {
                        service: req.service,
                        endpoint: endpoint.clone(),
                        message,
                        source: Some(Box::new(e.without_url())),
                    },
                    unsent,
                )
            }
        };
        let resp = rb.send().await.map_err(classify)?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = resp.bytes().await.map_err(classify)?.to_vec();
        Ok(Response {
            status,
            headers,
            body,
        })
    }
}

/// The messages of an error and its sources, joined (no URL).
fn error_chain(e: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    parts.push(if e.is_connect() {
        "connection failed".to_owned()
    } else {
        "request failed".to_owned()
    });
    while let Some(s) = cur {
        let text = s.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        cur = s.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A self-signed test CA certificate (no key anywhere in the project).
    const TEST_CA: &str = "-----BEGIN CERTIFICATE-----
MIIBkzCCATmgAwIBAgIUILahVJ6GQpwVZM90PTw90SETplowCgYIKoZIzj0EAwIw
HjEcMBoGA1UEAwwTaXN0aW8tbm9tYWQgdGVzdCBDQTAgFw0yNjEyMDMwNzE4MzFa
GA8yMTI2MTEwOTA3MTgzMVowHjEcMBoGA1UEAwwTaXN0aW8tbm9tYWQgdGVzdCBD
QTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABO7DWSTKhysKzGRtT1oEU8fPkkT6
mMEuQP9cs4i0yl/B3nSiMK0FWTp/U2aKlGWCaNPmloHsVe9kCS3BoD0KDpajUzBR
MB0GA1UdDgQWBBRvXkHTozyOuHSwspVlqPBTxsa9gzAfBgNVHSMEGDAWgBRvXkHT
ozyOuHSwspVlqPBTxsa9gzAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gA
MEUCIQC1TyQzzvBcTd/F2E6ibiviuc1/h9dKFZwLwNjih4kBPQIgYz+P88XKnuKH
jbHjyiySX5Lw0COm4E36EMgWqsOAPDk=
-----END CERTIFICATE-----
";

    #[test]
    fn ca_directory_like_go_rootcerts() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/ca.pem"), TEST_CA).unwrap();
        std::fs::write(dir.path().join("ca2.crt"), TEST_CA.repeat(2)).unwrap();
        let certs = ca_dir_certificates("NOMAD_CAPATH", dir.path()).unwrap();
        assert_eq!(certs.len(), 3);
        let tls = TlsConfig {
            ca_path: Some(dir.path().to_path_buf()),
            ..TlsConfig::default()
        };
        let fields = TlsFields {
            ca_cert: "NOMAD_CACERT",
            ca_path: "NOMAD_CAPATH",
            client_cert: "NOMAD_CLIENT_CERT",
            client_key: "NOMAD_CLIENT_KEY",
        };
        let url = reqwest::Url::parse("https://nomad.example:4646").unwrap();
        assert!(HttpTransport::new(
            Service::Nomad,
            vec![url.clone()],
            &tls,
            fields,
            ClientOptions::default(),
            Vec::new(),
            None
        )
        .is_ok());
        std::fs::write(dir.path().join("README"), "not a certificate").unwrap();
        let e = ca_dir_certificates("NOMAD_CAPATH", dir.path()).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "TLS setting NOMAD_CAPATH: {} in the CA directory holds no PEM certificate",
                dir.path().join("README").display()
            )
        );
        let empty = tempfile::tempdir().unwrap();
        let e = ca_dir_certificates("CONSUL_CAPATH", empty.path()).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "TLS setting CONSUL_CAPATH: {} holds no certificate",
                empty.path().display()
            )
        );
    }

    #[test]
    fn delays_grow_and_stay_bounded() {
        let p = RetryPolicy::new()
            .base_delay(Duration::from_millis(100))
            .max_delay(Duration::from_millis(250));
        for _ in 0..50 {
            let d1 = p.delay(1);
            assert!(
                d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100),
                "{d1:?}"
            );
            let d2 = p.delay(2);
            assert!(
                d2 >= Duration::from_millis(100) && d2 <= Duration::from_millis(200),
                "{d2:?}"
            );
            let d9 = p.delay(9);
            assert!(
                d9 >= Duration::from_millis(125) && d9 <= Duration::from_millis(250),
                "{d9:?}"
            );
        }
        assert_eq!(RetryPolicy::none().max_attempts, 1);
    }
}
