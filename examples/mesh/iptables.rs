//! `mesh iptables`: Istio's interception rules from istio-iptables style flags.
//!
//! ```text
//! mesh iptables -b 9080 -i '*' --format restore       # print iptables-restore input
//! mesh iptables -m TPROXY --format shell              # print the sequential shell form
//! mesh iptables --env-file /var/lib/istio/envoy/sidecar.env --format cleanup
//! mesh iptables apply --netns app1 -b 9080            # install (no-op when already there)
//! mesh iptables clean --netns app1 -b 9080            # remove exactly what apply installed
//! ```

use istio_nomad_core::iptables::{
    Family, InterceptConfig, IptablesPlan, Netfilter, NetfilterReport, SystemNetfilter,
};

/// What to do with the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Action {
    /// Install the rules (one atomic transaction per family; nothing written when present).
    Apply,
    /// Remove the rules (ours only).
    Clean,
}

/// How to print the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// `iptables-restore --noflush` input (IPv6 after it when on).
    Restore,
    /// A POSIX shell script, one command per rule.
    Shell,
    /// The cleanup as `iptables-restore --noflush` input.
    Cleanup,
    /// The cleanup as a shell script (includes the TPROXY `ip rule`/`ip route`).
    CleanupShell,
}

/// Arguments of `mesh iptables`. The short flags are istio-iptables'.
#[derive(Debug, clap::Args)]
pub struct IptablesArgs {
    /// `apply` or `clean` the rules; without it the plan is printed.
    #[arg(value_enum)]
    pub action: Option<Action>,
    /// Network namespace (as in `ip netns list`) to apply in or clean; the current one when
    /// omitted.
    #[arg(long)]
    pub netns: Option<String>,
    /// Output format when printing.
    #[arg(long, value_enum, default_value_t = OutputFormat::Restore)]
    pub format: OutputFormat,
    /// Env files (`cluster.env`, `sidecar.env`) read before the flags, later ones win.
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_files: Vec<String>,
    /// Proxy (outbound capture) port [15001].
    #[arg(short = 'p', value_name = "PORT")]
    pub proxy_port: Option<String>,
    /// Inbound capture port [15006].
    #[arg(short = 'z', value_name = "PORT")]
    pub inbound_capture_port: Option<String>,
    /// uids whose traffic bypasses the proxy, comma-separated [1337].
    #[arg(short = 'u', value_name = "UIDS")]
    pub proxy_uids: Option<String>,
    /// gids whose traffic bypasses the proxy [same as -u].
    #[arg(short = 'g', value_name = "GIDS")]
    pub proxy_gids: Option<String>,
    /// Inbound mode: REDIRECT or TPROXY [REDIRECT].
    #[arg(short = 'm', value_name = "MODE")]
    pub mode: Option<String>,
    /// Inbound ports to capture: '*', a list, or '' for none ['*'].
    #[arg(short = 'b', value_name = "PORTS")]
    pub inbound_ports: Option<String>,
    /// Inbound ports never captured (with -b '*').
    #[arg(short = 'd', value_name = "PORTS")]
    pub exclude_inbound_ports: Option<String>,
    /// Outbound networks to capture: '*', a list, or '' for none ['*'].
    #[arg(short = 'i', value_name = "CIDRS")]
    pub outbound_cidrs: Option<String>,
    /// Outbound networks never captured.
    #[arg(short = 'x', value_name = "CIDRS")]
    pub exclude_outbound_cidrs: Option<String>,
    /// Outbound ports never captured.
    #[arg(short = 'o', value_name = "PORTS")]
    pub exclude_outbound_ports: Option<String>,
    /// Interfaces whose inbound traffic is treated as outbound.
    #[arg(short = 'k', value_name = "IFACES")]
    pub outbound_interfaces: Option<String>,
    /// TPROXY mark [1337].
    #[arg(short = 't', value_name = "MARK")]
    pub tproxy_mark: Option<String>,
    /// TPROXY routing table [133].
    #[arg(short = 'r', value_name = "TABLE")]
    pub tproxy_route_table: Option<String>,
    /// Also install the rules for IPv6.
    #[arg(long)]
    pub ipv6: bool,
    /// Let root's (uid/gid 0) traffic bypass the proxy (Istio's implicit `-u ...,0`).
    #[arg(long)]
    pub bypass_root: bool,
}

impl IptablesArgs {
    /// The flags in istio-iptables form, for [`InterceptConfig::with_flags`].
    fn flags(&self) -> Vec<String> {
        let mut out = Vec::new();
        let pairs = [
            ("-p", &self.proxy_port),
            ("-z", &self.inbound_capture_port),
            ("-u", &self.proxy_uids),
            ("-g", &self.proxy_gids),
            ("-m", &self.mode),
            ("-b", &self.inbound_ports),
            ("-d", &self.exclude_inbound_ports),
            ("-i", &self.outbound_cidrs),
            ("-x", &self.exclude_outbound_cidrs),
            ("-o", &self.exclude_outbound_ports),
            ("-k", &self.outbound_interfaces),
            ("-t", &self.tproxy_mark),
            ("-r", &self.tproxy_route_table),
        ];
        for (flag, value) in pairs {
            if let Some(v) = value {
                out.push(flag.to_string());
                out.push(v.clone());
            }
        }
        if self.ipv6 {
            out.push("--ipv6".into());
        }
        if self.bypass_root {
            out.push("--bypass-root".into());
        }
        out
    }
}

fn describe(what: &str, r: NetfilterReport) -> String {
    if r.changed() {
        format!(
            "{what}: {} restore transaction(s), {} route change(s)",
            r.transactions, r.route_changes
        )
    } else {
        format!("{what}: nothing to do")
    }
}

/// Runs `mesh iptables`.
pub fn run(args: IptablesArgs) -> Result<(), Box<dyn std::error::Error>> {
    let base = if args.env_files.is_empty() {
        InterceptConfig::default()
    } else {
        let files: Vec<&str> = args.env_files.iter().map(String::as_str).collect();
        InterceptConfig::from_env_files(&files)?
    };
    let config = base.with_flags(&args.flags())?;
    let plan = IptablesPlan::new(&config)?;
    let Some(action) = args.action else {
        let text = match args.format {
            OutputFormat::Restore | OutputFormat::Cleanup => {
                let render = |f| match args.format {
                    OutputFormat::Restore => plan.render_restore(f),
                    _ => plan.render_cleanup_restore(f),
                };
                let mut t = render(Family::V4);
                if plan.family(Family::V6).is_some() {
                    t.push_str("# ip6tables-restore --noflush\n");
                    t.push_str(&render(Family::V6));
                }
                t
            }
            OutputFormat::Shell => plan.render_shell(),
            OutputFormat::CleanupShell => plan.render_cleanup_shell(),
        };
        print!("{text}");
        return Ok(());
    };
    let nf = match &args.netns {
        Some(name) => SystemNetfilter::in_netns(name)?,
        None => SystemNetfilter::new(),
    };
    let report = match action {
        Action::Apply => describe("apply", nf.apply(&plan)?),
        Action::Clean => describe("clean", nf.clean(&plan)?),
    };
    println!(
        "{report} (backend {:?}, {} process(es) run)",
        nf.backend()?,
        nf.processes_spawned()
    );
    Ok(())
}
