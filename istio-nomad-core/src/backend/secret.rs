//! A string that is never printed.

use std::fmt;

/// A token or password. `Debug` and `Display` print `[redacted]`; the value is reachable
/// only through [`Secret::expose`], which the transport calls when it sets a header.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value itself. Only for putting it on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when the value is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret(s)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret(s.to_owned())
    }
}

/// HTTP basic-auth credentials (`NOMAD_HTTP_AUTH`, `CONSUL_HTTP_AUTH`). `Debug` shows the
/// user name only.
#[derive(Clone, PartialEq, Eq)]
pub struct BasicAuth {
    /// User name.
    pub username: String,
    /// Password (empty when the setting had no `:`).
    pub password: Secret,
}

impl BasicAuth {
    /// Credentials from a user name and a password.
    pub fn new(username: impl Into<String>, password: impl Into<Secret>) -> Self {
        BasicAuth {
            username: username.into(),
            password: password.into(),
        }
    }

    /// Reads `user[:password]` the way the Go clients do: split at the first `:`, no `:`
    /// meaning an empty password (hashicorp/nomad `api/api.go` `DefaultConfig`,
    /// hashicorp/consul `api/api.go` `defaultConfig`).
    pub fn parse(value: &str) -> Self {
        match value.split_once(':') {
            Some((user, pass)) => BasicAuth::new(user, pass),
            None => BasicAuth::new(value, ""),
        }
    }

    /// The `Authorization` header value: `Basic base64(user:password)`.
    pub fn header_value(&self) -> Secret {
        use base64::Engine as _;
        let raw = format!("{}:{}", self.username, self.password.expose());
        Secret::new(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        ))
    }
}

impl fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicAuth")
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::{BasicAuth, Secret};

    #[test]
    fn basic_auth_parses_like_go_and_redacts() {
        let a = BasicAuth::parse("ops:pa:ss");
        assert_eq!(a.username, "ops");
        assert_eq!(a.password.expose(), "pa:ss");
        assert_eq!(a.header_value().expose(), "Basic b3BzOnBhOnNz");
        let dbg = format!("{a:?}");
        assert_eq!(
            dbg,
            "BasicAuth { username: \"ops\", password: \"[redacted]\" }"
        );
        let b = BasicAuth::parse("solo");
        assert_eq!((b.username.as_str(), b.password.expose()), ("solo", ""));
        assert_eq!(b.header_value().expose(), "Basic c29sbzo=");
    }

    #[test]
    fn debug_and_display_redact() {
        let s = Secret::new("s3cr3t-token");
        assert_eq!(format!("{s:?}"), "Secret([redacted])");
        assert_eq!(format!("{s}"), "[redacted]");
        assert_eq!(s.expose(), "s3cr3t-token");
    }
}
