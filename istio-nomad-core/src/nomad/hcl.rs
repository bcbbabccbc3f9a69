//! HCL2 jobspecs <-> Nomad API JSON.

use crate::error::{Format, ParseError};
use serde_json::Value;

/// Parses an HCL2 jobspec into the API JSON of its job.
pub fn jobspec_to_api(_text: &str) -> Result<Value, ParseError> {
    Err(ParseError::new(
        Format::Hcl,
        "HCL jobspecs are not supported in this build",
    ))
}

/// Renders the API JSON of a job as an HCL2 jobspec.
pub fn api_to_jobspec(_job: &Value) -> Result<String, crate::Error> {
    Err(ParseError::new(Format::Hcl, "HCL jobspecs are not supported in this build").into())
}
