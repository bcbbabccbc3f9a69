//! Input and output formats of documents passed through the C ABI.

use crate::error::{FfiResult, IstioNomadError, IstioNomadResult};

/// Format argument: detect from the text (JSON when the first non-blank character is `{`,
/// HCL otherwise). Accepted for inputs only.
pub const ISTIO_NOMAD_FORMAT_AUTO: u32 = 0;
/// Format argument: HCL2.
pub const ISTIO_NOMAD_FORMAT_HCL: u32 = 1;
/// Format argument: JSON.
pub const ISTIO_NOMAD_FORMAT_JSON: u32 = 2;

/// A document format, resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocFormat {
    /// HCL2.
    Hcl,
    /// JSON.
    Json,
}

impl DocFormat {
    /// The format of an input `text` given the format argument `raw` (see the
    /// `ISTIO_NOMAD_FORMAT_*` constants).
    pub fn of_input(raw: u32, text: &str, name: &str) -> FfiResult<DocFormat> {
        match raw {
            ISTIO_NOMAD_FORMAT_AUTO => Ok(Self::detect(text)),
            _ => Self::of_output(raw, name),
        }
    }

    /// The output format named by `raw` (`ISTIO_NOMAD_FORMAT_HCL` or `ISTIO_NOMAD_FORMAT_JSON`).
    pub fn of_output(raw: u32, name: &str) -> FfiResult<DocFormat> {
        match raw {
            ISTIO_NOMAD_FORMAT_HCL => Ok(DocFormat::Hcl),
            ISTIO_NOMAD_FORMAT_JSON => Ok(DocFormat::Json),
            other => Err(IstioNomadError::argument(
                IstioNomadResult::ISTIO_NOMAD_INVALID_ARGUMENT,
                name,
                format!(
                    "unknown format {other} (1 is HCL, 2 is JSON; 0 detects the format of an input)"
                ),
            )),
        }
    }

    /// JSON when the first non-blank character is `{`, HCL otherwise.
    pub fn detect(text: &str) -> DocFormat {
        match text.trim_start().as_bytes().first() {
            Some(b'{') => DocFormat::Json,
            _ => DocFormat::Hcl,
        }
    }
}
