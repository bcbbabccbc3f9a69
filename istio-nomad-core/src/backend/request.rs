//! Requests and responses as plain data (sans-IO).
//!
//! Every backend call is first built by a pure function as a [`Request`] (method, path,
//! query, headers, body) and its answer is decoded by a pure function from a [`Response`].
//! Only [`super::transport::HttpTransport`] touches the network, so every request can be
//! checked offline.

use std::fmt;
use std::time::Duration;

use serde::de::DeserializeOwned;

use super::{BackendError, Secret, Service};

pub use crate::error::backend::Method;

/// A header value; secret ones are redacted from `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub enum HeaderValue {
    /// An ordinary value.
    Plain(String),
    /// A token: sent as is, never printed.
    Secret(Secret),
}

impl HeaderValue {
    /// The value to put on the wire.
    pub fn expose(&self) -> &str {
        match self {
            HeaderValue::Plain(s) => s,
            HeaderValue::Secret(s) => s.expose(),
        }
    }
}

impl fmt::Debug for HeaderValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderValue::Plain(s) => fmt::Debug::fmt(s, f),
            HeaderValue::Secret(_) => f.write_str("[redacted]"),
        }
    }
}

/// A request body.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// No body.
    Empty,
    /// A JSON document.
    Json(serde_json::Value),
    /// Raw bytes (Consul KV values).
    Bytes(Vec<u8>),
    /// A JSON document holding a password: sent as is, never printed.
    SecretJson(Secret),
}

/// One HTTP request, as data.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The server it is for.
    pub service: Service,
    /// Method.
    pub method: Method,
    /// Path, already percent-encoded, starting with `/`.
    pub path: String,
    /// Query parameters, in order (never a token).
    pub query: Vec<(String, String)>,
    /// Headers (tokens as [`HeaderValue::Secret`]).
    pub headers: Vec<(String, HeaderValue)>,
    /// Body.
    pub body: Body,
    /// True when sending the request twice has the same effect as once, so that it may be
    /// retried after a 429, a 5xx or a timeout.
    pub idempotent: bool,
    /// Extra time the server may hold the request (blocking queries), added to the timeout.
    pub hold: Duration,
    /// True when this server answers 429 only before reading the request, so that even a
    /// write may be repeated after it. Nomad's 429 comes from its HTTP connection limiter,
    /// which writes the answer and closes the connection before any request is read
    /// (hashicorp/nomad `command/agent/http.go` `connLimiter`, v1.6.9 and v1.11.3).
    pub retry_429_always: bool,
    /// True when a 500 whose body is Nomad's job validation error is final (not retried):
    /// the job plan and register endpoints return the validation multi-error of the
    /// admission controllers as a plain 500 (hashicorp/nomad `nomad/job_endpoint.go` `Plan`,
    /// `nomad/job_endpoint_hooks.go` `admissionControllers`, `command/agent/http.go`
    /// `errCodeFromHandler`).
    pub validation_500_final: bool,
}

impl Request {
    /// A request with no query, headers or body.
    pub fn new(service: Service, method: Method, path: impl Into<String>) -> Self {
        Request {
            service,
            method,
            path: path.into(),
            query: Vec::new(),
            headers: Vec::new(),
            body: Body::Empty,
            idempotent: method == Method::Get,
            hold: Duration::ZERO,
            retry_429_always: false,
            validation_500_final: false,
        }
    }

    /// Adds a query parameter.
    #[must_use]
    pub fn query(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((key.into(), value.into()));
        self
    }

    /// Adds a query parameter when `value` is some non-empty string.
    #[must_use]
    pub fn query_opt(self, key: &str, value: Option<&str>) -> Self {
        match value {
            Some(v) if !v.is_empty() => self.query(key, v),
            _ => self,
        }
    }

    /// Adds a header.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers
            .push((name.into(), HeaderValue::Plain(value.into())));
        self
    }

    /// Adds a token header when a token is set.
    #[must_use]
    pub fn secret_header(mut self, name: &str, token: Option<&Secret>) -> Self {
        if let Some(t) = token {
            if !t.is_empty() {
                self.headers
                    .push((name.to_owned(), HeaderValue::Secret(t.clone())));
            }
        }
        self
    }

    /// Sets a JSON body.
    #[must_use]
    pub fn json(mut self, body: serde_json::Value) -> Self {
        self.body = Body::Json(body);
        self
    }

    /// Sets a raw body.
    #[must_use]
    pub fn bytes(mut self, body: Vec<u8>) -> Self {
        self.body = Body::Bytes(body);
        self
    }

    /// Sets a JSON body that holds a secret (never printed).
    #[must_use]
    pub fn body_secret(mut self, json: Secret) -> Self {
        self.body = Body::SecretJson(json);
        self
    }

    /// Marks the request as safe (or not) to repeat.
    #[must_use]
    pub fn idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = idempotent;
        self
    }

    /// Lets a 429 be retried whatever the method (see [`Request::retry_429_always`]).
    #[must_use]
    pub fn retry_429_always(mut self, yes: bool) -> Self {
        self.retry_429_always = yes;
        self
    }

    /// Makes a 500 carrying a job validation error final (see
    /// [`Request::validation_500_final`]).
    #[must_use]
    pub fn validation_500_final(mut self, yes: bool) -> Self {
        self.validation_500_final = yes;
        self
    }

    /// Whether `resp` may be answered by sending the request again: a 429 or a 5xx for an
    /// idempotent request, a 429 for a server that sends it before reading
    /// ([`Request::retry_429_always`]), never a job validation error
    /// ([`Request::validation_500_final`]).
    pub fn may_retry_answer(&self, resp: &Response) -> bool {
        let transient = resp.status == 429 || (500..600).contains(&resp.status);
        if !transient {
            return false;
        }
        if self.validation_500_final
            && resp.status == 500
            && is_nomad_validation_error(&resp.text())
        {
            return false;
        }
        self.idempotent || (resp.status == 429 && self.retry_429_always)
    }

    /// Sets the time the server may hold the request.
    #[must_use]
    pub fn hold(mut self, hold: Duration) -> Self {
        self.hold = hold;
        self
    }

    /// The value of query parameter `key`, if present.
    pub fn query_value(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The value of header `name` (case-insensitive), if present.
    pub fn header_value(&self, name: &str) -> Option<&HeaderValue> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }
}

/// One HTTP response, as data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Response {
    /// A response with a status and a body.
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// Adds a header.
    #[must_use]
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    /// The value of header `name` (case-insensitive), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// True for 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Longest server message kept in an error.
const MAX_MESSAGE: usize = 4096;

/// The server's message from an error body: the plain text (Nomad, Consul), or the
/// `message`/`error` field of a JSON error (etcd gateway), trimmed and shortened.
pub fn server_message(resp: &Response) -> String {
    let text = resp.text();
    let trimmed = text.trim();
    let msg = if trimmed.starts_with('{') {
        match serde_json::from_str::<serde_json::Value>(trimmed) {
            Ok(v) => v
                .get("message")
                .or_else(|| v.get("error"))
                .and_then(|m| m.as_str())
                .map(str::to_owned)
                .unwrap_or_else(|| trimmed.to_owned()),
            Err(_) => trimmed.to_owned(),
        }
    } else {
        trimmed.to_owned()
    };
    if msg.len() > MAX_MESSAGE {
        let mut end = MAX_MESSAGE;
        while !msg.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &msg[..end])
    } else {
        msg
    }
}

/// Nomad's check-and-set failure text.
pub const NOMAD_CAS_MESSAGE: &str = "Enforcing job modify index";

/// The typed error for a non-2xx answer: 404 is [`BackendError::NotFound`], a Nomad
/// `Enforcing job modify index` failure (whatever its status) is
/// [`BackendError::Conflict`], anything else is [`BackendError::Http`].
pub fn error_from_response(req: &Request, resp: &Response) -> BackendError {
    let message = server_message(resp);
    let (service, method, path) = (req.service, req.method, req.path.clone());
    if resp.status == 404 {
        return BackendError::NotFound {
            service,
            method,
            path,
            status: 404,
            message,
        };
    }
    if service == Service::Nomad && message.contains(NOMAD_CAS_MESSAGE) {
        return BackendError::Conflict {
            service,
            method,
            path,
            status: Some(resp.status),
            message,
        };
    }
    BackendError::Http {
        service,
        method,
        path,
        status: resp.status,
        message,
    }
}

/// Fails with the typed error unless the answer is 2xx.
pub fn check_status(req: &Request, resp: &Response) -> Result<(), BackendError> {
    if resp.is_success() {
        Ok(())
    } else {
        Err(error_from_response(req, resp))
    }
}

/// Decodes a 2xx JSON answer (any other status becomes the typed error).
pub fn decode_json<T: DeserializeOwned>(req: &Request, resp: &Response) -> Result<T, BackendError> {
    check_status(req, resp)?;
    serde_json::from_slice(&resp.body).map_err(|e| BackendError::Decode {
        service: req.service,
        path: req.path.clone(),
        message: e.to_string(),
    })
}

/// True when a Nomad 500 body is a job validation or admission error, which sending the
/// same job again cannot change: go-multierror's `N error(s) occurred:` text that
/// `admissionValidators` builds, or `error in job mutator ...` from `admissionMutators`
/// (hashicorp/nomad `nomad/job_endpoint_hooks.go`, v1.6.9 and v1.11.3).
pub fn is_nomad_validation_error(text: &str) -> bool {
    let t = text.trim_start();
    if t.starts_with("error in job mutator") {
        return true;
    }
    let digits: String = t.chars().take_while(char::is_ascii_digit).collect();
    !digits.is_empty()
        && (t[digits.len()..].starts_with(" error occurred:")
            || t[digits.len()..].starts_with(" errors occurred:"))
}

/// Reads a blocking-query index header. Missing is [`BackendError::MissingIndex`]; anything
/// but a non-negative integer is [`BackendError::MalformedIndex`], and so is 0 unless
/// `zero_ok` (Nomad sends 0 for a table nothing was written to yet; Consul never sends 0,
/// see [`super::Indexed::index`]).
pub fn index_header(
    req: &Request,
    resp: &Response,
    header: &'static str,
    zero_ok: bool,
) -> Result<u64, BackendError> {
    let raw = resp
        .header(header)
        .ok_or_else(|| BackendError::MissingIndex {
            service: req.service,
            path: req.path.clone(),
            header,
        })?;
    let trimmed = raw.trim();
    let digits_only = !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit());
    match trimmed.parse::<u64>() {
        Ok(n) if digits_only && (n > 0 || zero_ok) => Ok(n),
        _ => Err(BackendError::MalformedIndex {
            service: req.service,
            path: req.path.clone(),
            header,
            value: raw.chars().take(64).collect(),
        }),
    }
}

/// Percent-encodes one path segment (everything but RFC 3986 unreserved characters).
pub fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-encodes a slash-separated key, keeping the slashes (Consul KV keys).
pub fn encode_key_path(key: &str) -> String {
    key.split('/')
        .map(encode_segment)
        .collect::<Vec<_>>()
        .join("/")
}

/// Replaces every occurrence of each non-empty secret in the error's messages by
/// `[redacted]` (a server may echo what it was sent).
pub(crate) fn redact_error(err: BackendError, secrets: &[&Secret]) -> BackendError {
    let scrub = |mut s: String| {
        for secret in secrets {
            if !secret.is_empty() && s.contains(secret.expose()) {
                s = s.replace(secret.expose(), "[redacted]");
            }
        }
        s
    };
    match err {
        BackendError::Http {
            service,
            method,
            path,
            status,
            message,
        } => BackendError::Http {
            service,
            method,
            path,
            status,
            message: scrub(message),
        },
        BackendError::NotFound {
            service,
            method,
            path,
            status,
            message,
        } => BackendError::NotFound {
            service,
            method,
            path,
            status,
            message: scrub(message),
        },
        BackendError::Conflict {
            service,
            method,
            path,
            status,
            message,
        } => BackendError::Conflict {
            service,
            method,
            path,
            status,
            message: scrub(message),
        },
        BackendError::Connect {
            service,
            endpoint,
            message,
            source,
        } => BackendError::Connect {
            service,
            endpoint,
            message: scrub(message),
            source,
        },
        BackendError::Decode {
            service,
            path,
            message,
        } => BackendError::Decode {
            service,
            path,
            message: scrub(message),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> Request {
        Request::new(Service::Nomad, Method::Get, "/v1/job/web")
    }

    #[test]
    fn index_header_rules() {
        let r = req();
        let ok = Response::new(200, "{}").with_header("X-Nomad-Index", "42");
        assert_eq!(index_header(&r, &ok, "X-Nomad-Index", true).ok(), Some(42));
        let zero = Response::new(200, "null").with_header("X-Nomad-Index", "0");
        assert_eq!(index_header(&r, &zero, "X-Nomad-Index", true).ok(), Some(0));
        assert!(matches!(
            index_header(&r, &zero, "X-Consul-Index", false),
            Err(BackendError::MissingIndex { .. })
        ));
        let zero = Response::new(200, "[]").with_header("X-Consul-Index", "0");
        assert!(matches!(
            index_header(&r, &zero, "X-Consul-Index", false),
            Err(BackendError::MalformedIndex { .. })
        ));
        let missing = Response::new(200, "{}");
        assert!(matches!(
            index_header(&r, &missing, "X-Nomad-Index", true),
            Err(BackendError::MissingIndex {
                header: "X-Nomad-Index",
                ..
            })
        ));
        for bad in ["abc", "-3", "", "1.5", "+4", "0x10"] {
            let resp = Response::new(200, "{}").with_header("X-Nomad-Index", bad);
            match index_header(&r, &resp, "X-Nomad-Index", true) {
                Err(BackendError::MalformedIndex { value, .. }) => assert_eq!(value, bad),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn retry_rules_follow_the_servers() {
        let write = Request::new(Service::Nomad, Method::Post, "/v1/jobs").idempotent(false);
        let too_many = Response::new(429, "Your IP is issuing too many concurrent connections");
        assert!(!write.may_retry_answer(&too_many));
        assert!(write
            .clone()
            .retry_429_always(true)
            .may_retry_answer(&too_many));
        assert!(!write
            .clone()
            .retry_429_always(true)
            .may_retry_answer(&Response::new(500, "no leader")));
        let plan = Request::new(Service::Nomad, Method::Post, "/v1/job/web/plan")
            .idempotent(true)
            .validation_500_final(true);
        assert!(plan.may_retry_answer(&Response::new(500, "No cluster leader")));
        assert!(!plan.may_retry_answer(&Response::new(
            500,
            "1 error occurred:\n\t* Missing job datacenters\n\n"
        )));
        assert!(!plan.may_retry_answer(&Response::new(500, "2 errors occurred:\n\t* a\n\t* b\n\n")));
        assert!(!plan.may_retry_answer(&Response::new(
            500,
            "error in job mutator expose-check: unable to find group"
        )));
        assert!(!plan.may_retry_answer(&Response::new(400, "bad")));
        assert!(is_nomad_validation_error("12 errors occurred:\n"));
        assert!(!is_nomad_validation_error("errors occurred"));
    }

    #[test]
    fn errors_keep_status_and_message() {
        let r = req();
        let e = error_from_response(&r, &Response::new(403, "Permission denied\n"));
        assert_eq!(e.status(), Some(403));
        assert_eq!(
            e.to_string(),
            "nomad GET /v1/job/web: HTTP 403: Permission denied"
        );
        assert!(!e.is_retryable());
        let e = error_from_response(&r, &Response::new(404, "job not found"));
        assert!(e.is_not_found());
        let e = error_from_response(
            &r,
            &Response::new(
                500,
                "Enforcing job modify index 3: job exists with conflicting job modify index: 5",
            ),
        );
        assert!(e.is_conflict());
        assert_eq!(e.status(), Some(500));
        let e = error_from_response(&r, &Response::new(503, "no leader"));
        assert!(e.is_retryable());
        let etcd = Request::new(Service::Etcd, Method::Post, "/v3/kv/range");
        let e = error_from_response(
            &etcd,
            &Response::new(
                400,
                r#"{"error":"etcdserver: key not found","code":3,"message":"etcdserver: key not found"}"#,
            ),
        );
        assert_eq!(
            e.to_string(),
            "etcd POST /v3/kv/range: HTTP 400: etcdserver: key not found"
        );
    }

    #[test]
    fn segments_are_encoded() {
        assert_eq!(encode_segment("web api/1?x"), "web%20api%2F1%3Fx");
        assert_eq!(encode_key_path("mesh/state/a b"), "mesh/state/a%20b");
    }

    #[test]
    fn redaction() {
        let s = Secret::new("tok-123");
        let e = BackendError::Http {
            service: Service::Consul,
            method: Method::Put,
            path: "/v1/kv/x".into(),
            status: 403,
            message: "token tok-123 denied".into(),
        };
        assert_eq!(
            redact_error(e, &[&s]).to_string(),
            "consul PUT /v1/kv/x: HTTP 403: token [redacted] denied"
        );
    }

    #[test]
    fn request_debug_hides_tokens() {
        let r = req().secret_header("X-Nomad-Token", Some(&Secret::new("abc-secret")));
        let dbg = format!("{r:?}");
        assert!(dbg.contains("X-Nomad-Token"), "{dbg}");
        assert!(!dbg.contains("abc-secret"), "{dbg}");
    }
}
