//! Reading client settings from environment variables (through a lookup function, so tests
//! never touch the process environment).

use std::path::PathBuf;

use super::BackendError;

/// Looks up one variable; an empty value counts as unset, as in the Go clients.
pub(crate) fn var(lookup: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    lookup(name).filter(|v| !v.is_empty())
}

/// A path-valued variable.
pub(crate) fn path_var(lookup: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<PathBuf> {
    var(lookup, name).map(PathBuf::from)
}

/// A boolean as Go's `strconv.ParseBool` reads it.
pub(crate) fn parse_bool(field: &str, value: &str) -> Result<bool, BackendError> {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        other => Err(BackendError::config(
            field,
            format!("{other:?} is not a boolean (use true or false)"),
        )),
    }
}

/// A boolean variable (unset is `None`).
pub(crate) fn bool_var(
    lookup: &dyn Fn(&str) -> Option<String>,
    name: &str,
) -> Result<Option<bool>, BackendError> {
    var(lookup, name).map(|v| parse_bool(name, &v)).transpose()
}

/// Reads the process environment (the default lookup of every `from_env`).
pub(crate) fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Where a client connects: the base URL of every request and, for a `unix://` address, the
/// socket the connection is made to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParsedAddress {
    /// Base URL (for a socket: `http://<host>/` with the host the Go client puts in `Host`).
    pub url: reqwest::Url,
    /// The socket path of a `unix://` address.
    pub unix_socket: Option<PathBuf>,
}

/// Parses an `http(s)://host:port[/prefix]` address, or `unix:///path/to.sock` when
/// `unix_host` is given (the host name put in the URL of requests over the socket). A
/// missing scheme means `default_scheme`. Other schemes and credentials inside the address
/// are refused (their value is never repeated in the error).
pub(crate) fn parse_address(
    field: &str,
    value: &str,
    default_scheme: &str,
    unix_host: Option<&str>,
) -> Result<ParsedAddress, BackendError> {
    let value = value.trim();
    let with_scheme = if value.contains("://") {
        value.to_owned()
    } else {
        format!("{default_scheme}://{value}")
    };
    let (scheme, rest) = with_scheme
        .split_once("://")
        .unwrap_or((default_scheme, ""));
    match scheme {
        "http" | "https" => {}
        "unix" => {
            let Some(host) = unix_host else {
                return Err(BackendError::config(
                    field,
                    "unix socket addresses are not supported here; use http:// or https://",
                ));
            };
            if rest.is_empty() {
                return Err(BackendError::config(
                    field,
                    format!("{value:?} names no socket path"),
                ));
            }
            let url = reqwest::Url::parse(&format!("http://{host}/")).map_err(|e| {
                BackendError::config(field, format!("{value:?} is not a valid address: {e}"))
            })?;
            return Ok(ParsedAddress {
                url,
                unix_socket: Some(PathBuf::from(rest)),
            });
        }
        other => {
            return Err(BackendError::config(
                field,
                format!("unknown protocol scheme {other:?}"),
            ))
        }
    }
    let url = reqwest::Url::parse(&with_scheme).map_err(|e| {
        BackendError::config(field, format!("{value:?} is not a valid address: {e}"))
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(BackendError::config(
            field,
            "credentials inside the address are not supported",
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(BackendError::config(
            field,
            format!("{value:?} has no host"),
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(BackendError::config(
            field,
            format!("{value:?} must not have a query or fragment"),
        ));
    }
    Ok(ParsedAddress {
        url,
        unix_socket: None,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn bools_like_go() {
        for t in ["1", "t", "T", "TRUE", "true", "True"] {
            assert!(matches!(parse_bool("X", t), Ok(true)));
        }
        for f in ["0", "f", "F", "FALSE", "false", "False"] {
            assert!(matches!(parse_bool("X", f), Ok(false)));
        }
        let e = parse_bool("NOMAD_SKIP_VERIFY", "yes")
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("invalid setting NOMAD_SKIP_VERIFY: \"yes\" is not a boolean (use true or false)")
        );
    }

    #[test]
    fn addresses() {
        let u = parse_address("A", "127.0.0.1:8500", "http", None)
            .ok()
            .map(|u| u.url.to_string());
        assert_eq!(u.as_deref(), Some("http://127.0.0.1:8500/"));
        let u = parse_address("A", "https://consul.example:8501/prefix", "http", None)
            .ok()
            .map(|u| u.url.to_string());
        assert_eq!(u.as_deref(), Some("https://consul.example:8501/prefix"));
        let a = parse_address(
            "CONSUL_HTTP_ADDR",
            "unix:///tmp/consul.sock",
            "http",
            Some("localhost"),
        )
        .ok();
        assert_eq!(
            a,
            Some(ParsedAddress {
                url: reqwest::Url::parse("http://localhost/").unwrap(),
                unix_socket: Some(PathBuf::from("/tmp/consul.sock")),
            })
        );
        let e = parse_address("ETCDCTL_ENDPOINTS", "unix:///tmp/etcd.sock", "http", None)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("invalid setting ETCDCTL_ENDPOINTS: unix socket addresses are not supported here; use http:// or https://")
        );
        let e = parse_address("NOMAD_ADDR", "unix://", "http", Some("127.0.0.1"))
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("invalid setting NOMAD_ADDR: \"unix://\" names no socket path")
        );
        let e = parse_address("A", "ftp://x:1", "http", None)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("invalid setting A: unknown protocol scheme \"ftp\"")
        );
        let e = parse_address("A", "http://user:hunter2@x:1", "http", None)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("invalid setting A: credentials inside the address are not supported")
        );
    }
}
