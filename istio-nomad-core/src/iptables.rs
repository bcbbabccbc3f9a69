//! Istio's traffic interception rules as typed data (placeholder until the module lands).

/// An interception rule set that could not be built, read or applied.
#[derive(Debug, thiserror::Error)]
#[error("iptables: {0}")]
pub struct IptablesError(pub String);
