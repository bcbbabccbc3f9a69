//! Rendering Istio's interception rules from a JSON `InterceptConfig`.

use crate::error::{operation, FfiResult, IstioNomadError, IstioNomadResult};
use crate::string::{input_str, out_slot, put_string, IstioNomadString};
use istio_nomad_core::error::json::from_json_text;
use istio_nomad_core::iptables::{Family, InterceptConfig, IptablesPlan};
use istio_nomad_core::Result;
use serde_json::json;

/// Render kind: a JSON document with every rendering (see `istio_nomad_iptables_render`).
pub const ISTIO_NOMAD_IPTABLES_ALL: u32 = 0;
/// Render kind: `iptables-restore --noflush` input installing the IPv4 rules.
pub const ISTIO_NOMAD_IPTABLES_RESTORE: u32 = 1;
/// Render kind: `ip6tables-restore --noflush` input (empty when `ipv6` is off).
pub const ISTIO_NOMAD_IPTABLES_RESTORE_V6: u32 = 2;
/// Render kind: a POSIX shell script, one `iptables`/`ip6tables`/`ip` command per step.
pub const ISTIO_NOMAD_IPTABLES_SHELL: u32 = 3;
/// Render kind: `iptables-restore --noflush` input removing exactly the IPv4 rules.
pub const ISTIO_NOMAD_IPTABLES_CLEANUP: u32 = 4;
/// Render kind: `ip6tables-restore --noflush` input removing the IPv6 rules.
pub const ISTIO_NOMAD_IPTABLES_CLEANUP_V6: u32 = 5;
/// Render kind: a POSIX shell script removing everything, TPROXY routing included.
pub const ISTIO_NOMAD_IPTABLES_CLEANUP_SHELL: u32 = 6;

/// Reads an interception config from JSON (`{}` is Istio's defaults).
pub fn parse_config(text: &str) -> Result<InterceptConfig> {
    Ok(from_json_text(text, "config")?)
}

/// The text of one render kind, or `None` for an unknown kind.
pub fn render(plan: &IptablesPlan, kind: u32) -> Result<Option<String>> {
    Ok(Some(match kind {
        ISTIO_NOMAD_IPTABLES_ALL => {
            let files = plan.rules_file();
            let doc = json!({
                "restore": { "ipv4": plan.render_restore(Family::V4),
                             "ipv6": files.v6 },
                "cleanup": { "ipv4": plan.render_cleanup_restore(Family::V4),
                             "ipv6": plan.family(Family::V6).map(|_| plan.render_cleanup_restore(Family::V6)) },
                "shell": plan.render_shell(),
                "cleanup_shell": plan.render_cleanup_shell(),
                "ip_commands": files.ip_commands,
            });
            serde_json::to_string_pretty(&doc)? + "\n"
        }
        ISTIO_NOMAD_IPTABLES_RESTORE => plan.render_restore(Family::V4),
        ISTIO_NOMAD_IPTABLES_RESTORE_V6 => plan.render_restore(Family::V6),
        ISTIO_NOMAD_IPTABLES_SHELL => plan.render_shell(),
        ISTIO_NOMAD_IPTABLES_CLEANUP => plan.render_cleanup_restore(Family::V4),
        ISTIO_NOMAD_IPTABLES_CLEANUP_V6 => plan.render_cleanup_restore(Family::V6),
        ISTIO_NOMAD_IPTABLES_CLEANUP_SHELL => plan.render_cleanup_shell(),
        _ => return Ok(None),
    }))
}

/// Renders Istio's traffic interception rules for an `InterceptConfig` given as JSON.
///
/// `config`/`config_len`: the settings with Istio's defaults for what is left out, e.g.
/// `{"proxy_port": 15001, "proxy_uids": [1337], "mode": "redirect", "inbound_ports": [9080],
/// "exclude_outbound_cidrs": ["169.254.169.254/32"], "ipv6": false}` (`{}` is the defaults;
/// `inbound_ports` and `outbound_cidrs` take a list, `"all"` or `"none"`). `kind`: one of the
/// `ISTIO_NOMAD_IPTABLES_*` constants. `ISTIO_NOMAD_IPTABLES_ALL` gives a JSON document:
///
/// ```text
/// { "restore": { "ipv4": "<text>", "ipv6": "<text>" | null },
///   "cleanup": { "ipv4": "<text>", "ipv6": "<text>" | null },
///   "shell": "<script>", "cleanup_shell": "<script>",
///   "ip_commands": [["ip", "-4", "rule", ...], ...] }   // TPROXY policy routing
/// ```
///
/// A bad setting is `ISTIO_NOMAD_PARSE` (wrong type or unknown key, with its path) or
/// `ISTIO_NOMAD_VALIDATION` (a rule broken, with the setting and value).
///
/// # Safety
/// `config` points to `config_len` readable bytes (or is NULL with `config_len` 0); `out` is a
/// writable pointer slot; `error` is NULL or a writable pointer slot.
#[no_mangle]
pub unsafe extern "C" fn istio_nomad_iptables_render(
    config: *const u8,
    config_len: usize,
    kind: u32,
    out: *mut *mut IstioNomadString,
    error: *mut *mut IstioNomadError,
) -> IstioNomadResult {
    // SAFETY: pointer contracts forwarded from the caller.
    unsafe {
        operation(error, || -> FfiResult {
            let out = out_slot(out, "out")?;
            let text = input_str(config, config_len, "config")?;
            let plan = IptablesPlan::new(&parse_config(text)?)?;
            match render(&plan, kind)? {
                Some(rendered) => put_string(out, rendered),
                None => {
                    return Err(IstioNomadError::argument(
                        IstioNomadResult::ISTIO_NOMAD_INVALID_ARGUMENT,
                        "kind",
                        format!("unknown render kind {kind} (0 to 6, see ISTIO_NOMAD_IPTABLES_*)"),
                    ))
                }
            }
            Ok(())
        })
    }
}
