//! Validation of Nomad API JSON against Nomad's OpenAPI description.
