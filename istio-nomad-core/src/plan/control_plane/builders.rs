//! Consuming builders that make one control-plane job alone.

use super::{components, etcd};
use crate::error::{Error, Result, ValidationErrors};
use crate::istio::IstioVersion;
use crate::nomad::Job;
use crate::spec::control_plane::{
    ConstraintSpec, ControlPlaneSpec, EtcdStorage, MeshContext, Profile, TlsSpec,
};
use crate::spec::MeshSpec;

macro_rules! builder {
    (
        $(#[$meta:meta])*
        $job:ident, $builder:ident, $field:ident, $render:path $(, enable $en:ident)?
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $job;

        impl $job {
            /// A builder with the `ha` profile's defaults for the mesh named `mesh`.
            pub fn builder(mesh: impl Into<String>) -> $builder {
                $builder {
                    ctx: MeshContext::new(mesh),
                    cp: ControlPlaneSpec::default(),
                    invalid: ValidationErrors::new(),
                }
            }

            /// A builder with the settings of a mesh spec.
            pub fn from_mesh(spec: &MeshSpec) -> $builder {
                $builder {
                    ctx: MeshContext::from_mesh(spec),
                    cp: spec.control_plane.clone(),
                    invalid: ValidationErrors::new(),
                }
            }
        }

        #[doc = concat!("Consuming builder of [`", stringify!($job), "`]; [`", stringify!($builder), "::build`] validates and returns the job.")]
        #[derive(Debug, Clone, PartialEq)]
        #[must_use]
        pub struct $builder {
            ctx: MeshContext,
            cp: ControlPlaneSpec,
            invalid: ValidationErrors,
        }

        impl $builder {
            /// Sets the profile (`ha` or `dev`).
            pub fn profile(mut self, p: Profile) -> Self {
                self.cp.profile = p;
                self
            }

            /// Replaces every control-plane setting (the other components' settings matter
            /// where this job refers to them, e.g. the etcd members in `--etcd-servers`).
            pub fn control_plane(mut self, cp: ControlPlaneSpec) -> Self {
                self.cp = cp;
                self
            }

            /// Sets the mesh-wide values (name, region, datacenters, namespace, hub, version).
            pub fn mesh(mut self, ctx: MeshContext) -> Self {
                self.ctx = ctx;
                self
            }

            /// Sets the Nomad region.
            pub fn region(mut self, region: impl Into<String>) -> Self {
                self.ctx.region = region.into();
                self
            }

            /// Sets the Istio image registry and release (`<hub>/pilot:<version>`); a release
            /// outside 1.0.x to 1.7.x is reported by `build` at `mesh.istio_version`.
            pub fn istio(mut self, hub: impl Into<String>, version: impl AsRef<str>) -> Self {
                self.ctx.hub = hub.into();
                self.invalid.0.retain(|e| e.path != "mesh.istio_version");
                match IstioVersion::parse_at("mesh.istio_version", version.as_ref()) {
                    Ok(v) => self.ctx.istio_version = v,
                    Err(Error::Validation(e)) => self.invalid.extend(e),
                    Err(other) => {
                        self.invalid
                            .add("mesh.istio_version", other.to_string(), version.as_ref())
                    }
                }
                self
            }

            /// Sets this component's image.
            pub fn image(mut self, image: impl Into<String>) -> Self {
                self.cp.$field.image = Some(image.into());
                self
            }

            /// Appends an argument after the generated ones.
            pub fn arg(mut self, arg: impl Into<String>) -> Self {
                self.cp.$field.args.push(arg.into());
                self
            }

            /// Sets an environment variable of the task.
            pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
                self.cp.$field.env.insert(key.into(), value.into());
                self
            }

            /// Sets the CPU (MHz) and memory (MB) of the task.
            pub fn resources(mut self, cpu_mhz: i64, memory_mb: i64) -> Self {
                self.cp.$field.cpu = Some(cpu_mhz);
                self.cp.$field.memory = Some(memory_mb);
                self
            }

            /// Adds a placement constraint.
            pub fn constraint(
                mut self,
                attribute: impl Into<String>,
                operator: impl Into<String>,
                value: impl Into<String>,
            ) -> Self {
                self.cp.$field.constraints.push(ConstraintSpec {
                    attribute: Some(attribute.into()),
                    operator: Some(operator.into()),
                    value: Some(value.into()),
                });
                self
            }

            /// Sets this job's datacenters.
            pub fn datacenters<I, S>(mut self, dcs: I) -> Self
            where
                I: IntoIterator<Item = S>,
                S: Into<String>,
            {
                self.cp.$field.datacenters = dcs.into_iter().map(Into::into).collect();
                self
            }

            /// Sets this job's Nomad namespace.
            pub fn namespace(mut self, ns: impl Into<String>) -> Self {
                self.cp.$field.namespace = Some(ns.into());
                self
            }

            /// Sets the DNS servers of the container (resolvers of `.consul` names).
            pub fn dns_servers<I, S>(mut self, servers: I) -> Self
            where
                I: IntoIterator<Item = S>,
                S: Into<String>,
            {
                self.cp.dns_servers = servers.into_iter().map(Into::into).collect();
                self
            }

            /// Validates the settings and makes the job; the job also passes
            /// [`Job::validate`].
            pub fn build(self) -> Result<Job> {
                #[allow(unused_mut)]
                let mut cp = self.cp;
                $( cp.$en.enabled = Some(true); )?
                let mut errors = self.invalid;
                errors.extend(cp.validate_with(&self.ctx));
                let name = &self.ctx.name;
                let name_ok = !name.is_empty()
                    && name.len() <= 63
                    && name
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    && !name.starts_with('-')
                    && !name.ends_with('-');
                if !name_ok {
                    errors.add(
                        "mesh.name",
                        "must be 1-63 lowercase letters, digits or '-', not starting or ending with '-'",
                        name,
                    );
                }
                errors.into_result()?;
                let r = cp.resolve(&self.ctx);
                let job = $render(&self.ctx, &r)?;
                job.validate()?;
                Ok(job)
            }
        }
    };
}

builder! {
    /// The etcd cluster job (`<mesh>-etcd`).
    EtcdJob, EtcdJobBuilder, etcd, etcd::etcd_job
}
builder! {
    /// The Istio API server job (`<mesh>-apiserver`).
    ApiServerJob, ApiServerJobBuilder, apiserver, components::apiserver_job
}
builder! {
    /// The Pilot job (`<mesh>-pilot`).
    PilotJob, PilotJobBuilder, pilot, components::pilot_job
}
builder! {
    /// The Mixer job (`<mesh>-mixer`).
    MixerJob, MixerJobBuilder, mixer, components::mixer_job, enable mixer
}
builder! {
    /// The Citadel job (`<mesh>-citadel`).
    CitadelJob, CitadelJobBuilder, citadel, components::citadel_job, enable citadel
}
builder! {
    /// The Zipkin job (`<mesh>-zipkin`).
    ZipkinJob, ZipkinJobBuilder, zipkin, components::zipkin_job, enable zipkin
}

impl EtcdJobBuilder {
    /// Sets the member count (1, 3, 5 or 7).
    pub fn members(mut self, n: i64) -> Self {
        self.cp.etcd.members = Some(n);
        self
    }

    /// Sets the static client and peer ports.
    pub fn ports(mut self, client: i64, peer: i64) -> Self {
        self.cp.etcd.client_port = Some(client);
        self.cp.etcd.peer_port = Some(peer);
        self
    }

    /// Sets `--initial-cluster-token`.
    pub fn cluster_token(mut self, token: impl Into<String>) -> Self {
        self.cp.etcd.cluster_token = Some(token.into());
        self
    }

    /// Keeps the data on a sticky, migrating ephemeral disk of `size_mb`.
    pub fn ephemeral_disk(mut self, size_mb: i64) -> Self {
        self.cp.etcd.storage.kind = EtcdStorage::EphemeralDisk;
        self.cp.etcd.storage.size = Some(size_mb);
        self
    }

    /// Keeps the data on the Nomad host volume `volume`.
    pub fn host_volume(mut self, volume: impl Into<String>) -> Self {
        self.cp.etcd.storage.kind = EtcdStorage::HostVolume;
        self.cp.etcd.storage.volume = Some(volume.into());
        self
    }
}

macro_rules! count_setter {
    ($($builder:ident . $field:ident),*) => {
        $(
            impl $builder {
                /// Sets the number of replicas.
                pub fn count(mut self, n: i64) -> Self {
                    self.cp.$field.count = Some(n);
                    self
                }
            }
        )*
    };
}

count_setter!(
    ApiServerJobBuilder.apiserver,
    PilotJobBuilder.pilot,
    MixerJobBuilder.mixer,
    CitadelJobBuilder.citadel,
    ZipkinJobBuilder.zipkin
);

impl ApiServerJobBuilder {
    /// Sets `--service-cluster-ip-range`.
    pub fn service_cluster_ip_range(mut self, cidr: impl Into<String>) -> Self {
        self.cp.apiserver.service_cluster_ip_range = Some(cidr.into());
        self
    }

    /// Sets the static port (TLS, or the insecure port in `dev`).
    pub fn port(mut self, port: i64) -> Self {
        self.cp.apiserver.port = Some(port);
        self
    }

    /// Sets the TLS settings.
    pub fn tls(mut self, tls: TlsSpec) -> Self {
        self.cp.apiserver.tls = tls;
        self
    }

    /// Sets the etcd member count the `--etcd-servers` list is made from.
    pub fn etcd_members(mut self, n: i64) -> Self {
        self.cp.etcd.members = Some(n);
        self
    }
}

impl PilotJobBuilder {
    /// Sets the static host ports of the HTTP and gRPC listeners.
    pub fn ports(mut self, http: i64, grpc: i64) -> Self {
        self.cp.pilot.http_port = Some(http);
        self.cp.pilot.grpc_port = Some(grpc);
        self
    }

    /// Sets `--consulserverURL`.
    pub fn consul_url(mut self, url: impl Into<String>) -> Self {
        self.cp.consul_url = Some(url.into());
        self
    }

    /// Sets the API server's TLS settings (which client certificate Pilot presents).
    pub fn tls(mut self, tls: TlsSpec) -> Self {
        self.cp.apiserver.tls = tls;
        self
    }
}

impl MixerJobBuilder {
    /// Sets the static gRPC port.
    pub fn grpc_port(mut self, port: i64) -> Self {
        self.cp.mixer.grpc_port = Some(port);
        self
    }

    /// Sets the API server's TLS settings (which client certificate Mixer presents).
    pub fn tls(mut self, tls: TlsSpec) -> Self {
        self.cp.apiserver.tls = tls;
        self
    }

    /// Sends traces to the mesh's Zipkin (`--trace_zipkin_url`), or not.
    pub fn zipkin(mut self, enabled: bool) -> Self {
        self.cp.zipkin.enabled = Some(enabled);
        self
    }
}

impl CitadelJobBuilder {
    /// Sets the static gRPC port.
    pub fn grpc_port(mut self, port: i64) -> Self {
        self.cp.citadel.grpc_port = Some(port);
        self
    }

    /// Sets the API server's TLS settings (which client certificate Citadel presents).
    pub fn tls(mut self, tls: TlsSpec) -> Self {
        self.cp.apiserver.tls = tls;
        self
    }
}

impl ZipkinJobBuilder {
    /// Sets the static port.
    pub fn port(mut self, port: i64) -> Self {
        self.cp.zipkin.port = Some(port);
        self
    }
}
