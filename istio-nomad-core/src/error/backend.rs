//! The error of every backend call.

use std::time::Duration;

use std::fmt;

/// Boxed underlying cause of a connection failure.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A Nomad, Consul or etcd call that failed.
///
/// Every variant names the server and, where there was a request, its method and path (never
/// the query string or headers: tokens travel in headers and are never part of an error).
/// Server answers keep their status code and the server's message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// The server answered with an error status.
    #[error("{service} {method} {path}: HTTP {status}: {message}")]
    Http {
        /// Which server.
        service: Service,
        /// Request method.
        method: Method,
        /// Request path (without query).
        path: String,
        /// HTTP status code.
        status: u16,
        /// The server's message (plain-text body, or the `message` of a JSON error).
        message: String,
    },
    /// The object does not exist (HTTP 404, or an etcd lease that is gone).
    #[error("{service} {method} {path}: not found (HTTP {status}): {message}")]
    NotFound {
        /// Which server.
        service: Service,
        /// Request method.
        method: Method,
        /// Request path (without query).
        path: String,
        /// HTTP status code (404 from Nomad and Consul; etcd may use others).
        status: u16,
        /// The server's message.
        message: String,
    },
    /// A check-and-set lost: another writer changed the object first.
    #[error("{service} {method} {path}: conflict: {message}")]
    Conflict {
        /// Which server.
        service: Service,
        /// Request method.
        method: Method,
        /// Request path (without query).
        path: String,
        /// HTTP status code of the answer, when the conflict came as an error status.
        status: Option<u16>,
        /// The server's message (Nomad: `Enforcing job modify index ...`).
        message: String,
    },
    /// No connection could be made, or it broke before an answer came.
    #[error("{service}: cannot reach {endpoint}: {message}")]
    Connect {
        /// Which server.
        service: Service,
        /// Scheme, host and port tried.
        endpoint: String,
        /// What went wrong.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<BoxError>,
    },
    /// No answer within the time allowed.
    #[error("{service} {method} {path}: no answer after {after:?}")]
    Timeout {
        /// Which server.
        service: Service,
        /// Request method.
        method: Method,
        /// Request path (without query).
        path: String,
        /// The time allowed.
        after: Duration,
    },
    /// A blocking read came back without its index header.
    #[error("{service} {path}: response has no {header} header")]
    MissingIndex {
        /// Which server.
        service: Service,
        /// Request path (without query).
        path: String,
        /// The header expected (`X-Nomad-Index`, `X-Consul-Index`).
        header: &'static str,
    },
    /// A blocking read came back with an index header that is not a positive integer.
    #[error("{service} {path}: malformed {header} header {value:?}")]
    MalformedIndex {
        /// Which server.
        service: Service,
        /// Request path (without query).
        path: String,
        /// The header.
        header: &'static str,
        /// Its value as received.
        value: String,
    },
    /// The answer could not be read as the documented type.
    #[error("{service} {path}: cannot decode response: {message}")]
    Decode {
        /// Which server.
        service: Service,
        /// Request path (without query).
        path: String,
        /// What did not fit.
        message: String,
    },
    /// A request could not be built from the given input.
    #[error("{service}: invalid request: {field}: {message}")]
    InvalidRequest {
        /// Which server.
        service: Service,
        /// The input field at fault (`Job.ID`, `key`).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A client setting (environment variable or builder value) is invalid.
    #[error("invalid setting {field}: {message}")]
    Config {
        /// The setting (`NOMAD_ADDR`, `CONSUL_CLIENT_CERT`, ...).
        field: String,
        /// What is wrong (secret values are never repeated here).
        message: String,
    },
    /// TLS material could not be loaded or the TLS client could not be built.
    #[error("TLS setting {field}: {message}")]
    Tls {
        /// The setting (`NOMAD_CACERT`, `ETCDCTL_CERT`, ...).
        field: String,
        /// What is wrong.
        message: String,
    },
}

impl BackendError {
    /// A connection failure without an underlying error value.
    pub fn connect(
        service: Service,
        endpoint: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        BackendError::Connect {
            service,
            endpoint: endpoint.into(),
            message: message.into(),
            source: None,
        }
    }

    /// An invalid client setting.
    pub fn config(field: impl Into<String>, message: impl Into<String>) -> Self {
        BackendError::Config {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The HTTP status code the server answered with, when there was an answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            BackendError::Http { status, .. } | BackendError::NotFound { status, .. } => {
                Some(*status)
            }
            BackendError::Conflict { status, .. } => *status,
            _ => None,
        }
    }

    /// The server that failed, when the error came from a call.
    pub fn service(&self) -> Option<Service> {
        match self {
            BackendError::Http { service, .. }
            | BackendError::NotFound { service, .. }
            | BackendError::Conflict { service, .. }
            | BackendError::Connect { service, .. }
            | BackendError::Timeout { service, .. }
            | BackendError::MissingIndex { service, .. }
            | BackendError::MalformedIndex { service, .. }
            | BackendError::Decode { service, .. }
            | BackendError::InvalidRequest { service, .. } => Some(*service),
            BackendError::Config { .. } | BackendError::Tls { .. } => None,
        }
    }

    /// True when the failure is transient, so that repeating an idempotent call may succeed:
    /// connection failures, timeouts, 429 (rate limited) and 5xx answers. A conflict, a 4xx,
    /// a decode or a configuration error is not retryable.
    ///
    /// Whether a call may actually be repeated also depends on the call: a write that may
    /// have reached the server is only safe to repeat after a connection failure.
    pub fn is_retryable(&self) -> bool {
        match self {
            BackendError::Connect { .. } | BackendError::Timeout { .. } => true,
            BackendError::Http { status, .. } => *status == 429 || (500..600).contains(status),
            _ => false,
        }
    }

    /// True when the error says the object does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, BackendError::NotFound { .. })
    }

    /// True when a check-and-set lost.
    pub fn is_conflict(&self) -> bool {
        matches!(self, BackendError::Conflict { .. })
    }
}

/// The server a request goes to (named in errors and logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// HashiCorp Nomad.
    Nomad,
    /// HashiCorp Consul.
    Consul,
    /// etcd (v3 JSON gateway).
    Etcd,
}

impl Service {
    /// Lower-case name: `nomad`, `consul` or `etcd`.
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Nomad => "nomad",
            Service::Consul => "consul",
            Service::Etcd => "etcd",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`
    Get,
    /// `PUT`
    Put,
    /// `POST`
    Post,
    /// `DELETE`
    Delete,
}

impl Method {
    /// Upper-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Put => "PUT",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
