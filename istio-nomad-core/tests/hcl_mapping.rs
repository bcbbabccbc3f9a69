//! Exact mappings of the jobspec <-> API JSON conversion, one rule per test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use istio_nomad_core::error::ParseErrorKind;
use istio_nomad_core::nomad::hcl::{
    api_to_jobspec, jobspec_bytes_to_api, jobspec_to_api, jobspec_to_api_with,
    jobspec_to_api_with_vars, HclOptions, MAX_NESTING_DEPTH,
};
use istio_nomad_core::Error;
use pretty_assertions::assert_eq;
use serde_json::{json, Value};

fn parse(text: &str) -> Value {
    jobspec_to_api(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// HCL -> api -> HCL -> api must give the same api value.
fn round_trip(api: &Value) -> String {
    let hcl = api_to_jobspec(api).unwrap();
    let back = jobspec_to_api(&hcl).unwrap_or_else(|e| panic!("{e}\n{hcl}"));
    assert_eq!(api, &back, "round trip changed the job; rendered:\n{hcl}");
    hcl
}

#[test]
fn labels_become_id_and_names() {
    let api = parse("job \"web\" {\n  group \"api\" {\n    task \"app\" {\n      driver = \"docker\"\n    }\n  }\n}\n");
    assert_eq!(api["ID"], "web");
    assert_eq!(api["Name"], "web");
    assert_eq!(api["TaskGroups"][0]["Name"], "api");
    assert_eq!(api["TaskGroups"][0]["Tasks"][0]["Name"], "app");
    let hcl = round_trip(&api);
    assert!(hcl.starts_with("job \"web\" {\n"), "{hcl}");
    assert!(
        !hcl.contains("name = "),
        "Name equal to the label is not repeated:\n{hcl}"
    );

    // `name` wins over the label for Name only; `id` overrides ID.
    let api = parse(r#"job "web" { name = "Web site" }"#);
    assert_eq!(
        (api["ID"].as_str(), api["Name"].as_str()),
        (Some("web"), Some("Web site"))
    );
    assert!(round_trip(&api).contains("name = \"Web site\""));
    let api = parse(r#"job "web" { id = "web-2" }"#);
    assert_eq!(
        (api["ID"].as_str(), api["Name"].as_str()),
        (Some("web-2"), Some("web"))
    );
}

#[test]
fn ports_split_into_reserved_and_dynamic() {
    let api = parse(
        r#"job "j" {
          group "g" {
            network {
              mode = "bridge"
              port "http" { to = 8080 }
              port "admin" {
                static       = 15021
                host_network = "public"
              }
              port "metrics" {}
            }
          }
        }"#,
    );
    let net = &api["TaskGroups"][0]["Networks"][0];
    assert_eq!(net["Mode"], "bridge");
    assert_eq!(
        net["ReservedPorts"],
        json!([{"Label": "admin", "Value": 15021, "HostNetwork": "public"}])
    );
    assert_eq!(
        net["DynamicPorts"],
        json!([{"Label": "http", "To": 8080}, {"Label": "metrics"}])
    );
    let hcl = round_trip(&api);
    assert!(
        hcl.contains(
            "port \"admin\" {\n        static = 15021\n        host_network = \"public\"\n      }"
        ),
        "{hcl}"
    );
    assert!(hcl.contains("port \"metrics\" {}"), "{hcl}");
}

#[test]
fn service_and_check_renames_and_durations() {
    let api = parse(
        r#"job "j" {
          group "g" {
            service {
              name = "web"
              port = "http"
              task = "app"
              check {
                type = "http"
                path = "/health"
                port = "admin"
                interval = "1h30m"
                timeout = "100ms"
                header { Authorization = ["Basic x"] }
                check_restart {
                  limit = 3
                  grace = "90s"
                }
              }
            }
          }
        }"#,
    );
    let svc = &api["TaskGroups"][0]["Services"][0];
    assert_eq!(svc["PortLabel"], "http");
    assert_eq!(svc["TaskName"], "app");
    let check = &svc["Checks"][0];
    assert_eq!(check["PortLabel"], "admin");
    assert_eq!(check["Interval"], 5_400_000_000_000i64);
    assert_eq!(check["Timeout"], 100_000_000);
    assert_eq!(check["Header"], json!({"Authorization": ["Basic x"]}));
    assert_eq!(
        check["CheckRestart"],
        json!({"Limit": 3, "Grace": 90_000_000_000i64})
    );
    let hcl = round_trip(&api);
    assert!(hcl.contains("interval = \"1h30m\""));
    assert!(hcl.contains("timeout = \"100ms\""));
    assert!(hcl.contains("grace = \"1m30s\""));
}

#[test]
fn template_data_env_and_interpolations_stay_untouched() {
    let api = parse(
        r#"job "j" {
          group "g" {
           task "t" {
            env { ADDR = "${NOMAD_IP_http}:${NOMAD_PORT_http}" }
            config { args = ["-port", "${NOMAD_PORT_http}"] }
            template {
              data = <<EOT
upstream {{ range service "web" }}{{ .Address }}{{ end }}
listen ${NOMAD_PORT_http}
EOT
              destination = "local/cfg"
              env = true
            }
           }
          }
        }"#,
    );
    let task = &api["TaskGroups"][0]["Tasks"][0];
    assert_eq!(task["Env"]["ADDR"], "${NOMAD_IP_http}:${NOMAD_PORT_http}");
    assert_eq!(
        task["Config"]["args"],
        json!(["-port", "${NOMAD_PORT_http}"])
    );
    let tpl = &task["Templates"][0];
    assert_eq!(
        tpl["EmbeddedTmpl"],
        "upstream {{ range service \"web\" }}{{ .Address }}{{ end }}\nlisten ${NOMAD_PORT_http}\n"
    );
    assert_eq!(tpl["DestPath"], "local/cfg");
    assert_eq!(tpl["Envvars"], true);
    // jobspec2's template defaults.
    assert_eq!(tpl["ChangeMode"], "restart");
    assert_eq!(tpl["Perms"], "0644");
    assert_eq!(tpl["Splay"], 5_000_000_000i64);
    assert_eq!(tpl["ErrMissingKey"], false);

    let hcl = round_trip(&api);
    assert!(
        !hcl.contains("$${"),
        "interpolations must not be escaped:\n{hcl}"
    );
    assert!(
        hcl.contains("ADDR = \"${NOMAD_IP_http}:${NOMAD_PORT_http}\""),
        "{hcl}"
    );
    assert!(
        hcl.contains("data = <<EOT\nupstream {{ range service \"web\" }}"),
        "{hcl}"
    );
}

#[test]
fn unknown_references_are_kept_as_interpolation_text() {
    let api = parse(
        r#"job "j" {
            constraint {
              attribute = attr.kernel.name
              value     = "linux"
            }
            constraint {
              attribute = "${meta.rack}"
              value     = "r1"
            }
            meta { url = "http://${attr.unique.network.ip-address}:80" }
        }"#,
    );
    assert_eq!(api["Constraints"][0]["LTarget"], "${attr.kernel.name}");
    assert_eq!(api["Constraints"][0]["Operand"], "=");
    assert_eq!(api["Constraints"][1]["LTarget"], "${meta.rack}");
    assert_eq!(
        api["Meta"]["url"],
        "http://${attr.unique.network.ip-address}:80"
    );
    round_trip(&api);
}

#[test]
fn strings_that_are_not_valid_interpolations_are_escaped_and_survive() {
    for s in [
        "${",
        "a ${b",
        "${upper(x)}",
        "%{ if true }x%{ endif }",
        "$${x}",
        "${var.x}",
        "x\"y\\z ${a}",
    ] {
        let api = json!({"ID": "j", "Meta": {"k": s}});
        let hcl = api_to_jobspec(&api).unwrap();
        let back = jobspec_to_api(&hcl).unwrap_or_else(|e| panic!("{s:?}: {e}\n{hcl}"));
        assert_eq!(back["Meta"]["k"], s, "{hcl}");
    }
}

#[test]
fn meta_as_map_attribute_and_number_values() {
    let api = parse(r#"job "j" { meta = { "team.name" = "mesh", "replicas" = 3, on = true } }"#);
    assert_eq!(
        api["Meta"],
        json!({"team.name": "mesh", "replicas": "3", "on": "true"})
    );
    let hcl = round_trip(&api);
    assert!(
        hcl.contains("meta = {"),
        "keys that are not identifiers need the map form:\n{hcl}"
    );
}

#[test]
fn driver_config_blocks_become_lists() {
    let api = parse(
        r#"job "j" {
          group "g" {
            task "t" {
              config {
                image = "envoy"
                mount {
                  type   = "bind"
                  target = "/etc/x"
                }
                mount {
                  type   = "tmpfs"
                  target = "/tmp"
                }
                port_map { http = 8080 }
                logging {
                  type = "syslog"
                  config { tag = "x" }
                }
                auth = { username = "u" }
                device "gpu" { count = 1 }
                nothing = null
              }
            }
          }
        }"#,
    );
    let config = &api["TaskGroups"][0]["Tasks"][0]["Config"];
    assert_eq!(
        config,
        &json!({
            "image": "envoy",
            "mount": [{"type": "bind", "target": "/etc/x"}, {"type": "tmpfs", "target": "/tmp"}],
            "port_map": [{"http": 8080}],
            "logging": [{"type": "syslog", "config": [{"tag": "x"}]}],
            "auth": {"username": "u"},
            "device": [{"gpu": [{"count": 1}]}],
            "nothing": null
        })
    );
    let hcl = round_trip(&api);
    assert!(
        hcl.contains("        mount {\n          type = \"bind\""),
        "{hcl}"
    );
    assert!(
        hcl.contains("        auth = {\n          username = \"u\"\n        }"),
        "{hcl}"
    );
}

#[test]
fn volumes_spreads_lifecycle_resources() {
    let api = parse(
        r#"job "j" {
          spread {
            attribute = "${node.datacenter}"
            weight    = 50
            target "dc1" { percent = 60 }
          }
          group "g" {
            volume "data" {
              type      = "host"
              source    = "data"
              read_only = true
            }
            ephemeral_disk { size = 500 }
            restart {
              attempts = 2
              interval = "30m"
              delay    = "15s"
              mode     = "fail"
            }
            reschedule {
              delay     = "30s"
              max_delay = "1h"
              unlimited = true
            }
            task "t" {
              lifecycle {
                hook    = "prestart"
                sidecar = true
              }
              resources {
                cpu        = 250
                memory     = 128
                memory_max = 256
              }
              logs {
                max_files     = 2
                max_file_size = 2
              }
              volume_mount {
                volume      = "data"
                destination = "/data"
              }
              kill_timeout = "30s"
            }
          }
          reschedule { attempts = 1 }
        }"#,
    );
    assert_eq!(
        api["Spreads"][0]["SpreadTarget"],
        json!([{"Value": "dc1", "Percent": 60}])
    );
    assert_eq!(api["Reschedule"], json!({"Attempts": 1}));
    let g = &api["TaskGroups"][0];
    assert_eq!(
        g["Volumes"],
        json!({"data": {"Name": "data", "Type": "host", "Source": "data", "ReadOnly": true}})
    );
    assert_eq!(g["EphemeralDisk"], json!({"SizeMB": 500}));
    assert_eq!(g["RestartPolicy"]["Interval"], 1_800_000_000_000i64);
    assert_eq!(
        g["ReschedulePolicy"],
        json!({"Delay": 30_000_000_000i64, "MaxDelay": 3_600_000_000_000i64, "Unlimited": true})
    );
    let t = &g["Tasks"][0];
    assert_eq!(t["Lifecycle"], json!({"Hook": "prestart", "Sidecar": true}));
    assert_eq!(
        t["Resources"],
        json!({"CPU": 250, "MemoryMB": 128, "MemoryMaxMB": 256})
    );
    assert_eq!(t["LogConfig"], json!({"MaxFiles": 2, "MaxFileSizeMB": 2}));
    assert_eq!(
        t["VolumeMounts"],
        json!([{"Volume": "data", "Destination": "/data"}])
    );
    assert_eq!(t["KillTimeout"], 30_000_000_000i64);
    let hcl = round_trip(&api);
    assert!(hcl.contains("volume \"data\" {"));
    assert!(hcl.contains("max_delay = \"1h\""));
}

#[test]
fn connect_sidecar_and_transparent_proxy() {
    let api = parse(
        r#"job "j" {
          group "g" {
            service {
              name = "web"
              port = "9090"
              connect {
                sidecar_service {
                  disable_default_tcp_check = true
                  proxy {
                    local_service_port = 9090
                    upstreams {
                      destination_name = "db"
                      local_bind_port  = 5432
                    }
                    transparent_proxy {
                      uid                    = "101"
                      exclude_outbound_cidrs = ["10.0.0.0/8"]
                      exclude_outbound_ports = [53]
                      no_dns                 = true
                    }
                    expose {
                      path {
                        path            = "/metrics"
                        protocol        = "http"
                        local_path_port = 9102
                        listener_port   = "expose"
                      }
                    }
                    config { protocol = "grpc" }
                  }
                }
                sidecar_task {
                  resources { cpu = 100 }
                  shutdown_delay = "5s"
                }
              }
            }
          }
        }"#,
    );
    let connect = &api["TaskGroups"][0]["Services"][0]["Connect"];
    let proxy = &connect["SidecarService"]["Proxy"];
    assert_eq!(connect["SidecarService"]["DisableDefaultTCPCheck"], true);
    assert_eq!(
        proxy["Upstreams"],
        json!([{"DestinationName": "db", "LocalBindPort": 5432}])
    );
    assert_eq!(
        proxy["TransparentProxy"],
        json!({"UID": "101", "ExcludeOutboundPorts": [53], "ExcludeOutboundCIDRs": ["10.0.0.0/8"], "NoDNS": true})
    );
    assert_eq!(
        proxy["Expose"],
        json!({"Paths": [{"Path": "/metrics", "Protocol": "http", "LocalPathPort": 9102, "ListenerPort": "expose"}]})
    );
    assert_eq!(proxy["Config"], json!({"protocol": "grpc"}));
    assert_eq!(
        connect["SidecarTask"],
        json!({"ShutdownDelay": 5_000_000_000i64, "Resources": {"CPU": 100}})
    );
    round_trip(&api);
}

#[test]
fn constraint_shorthands_and_affinity_default_operator() {
    let api = parse(
        r#"job "j" {
            constraint { distinct_hosts = true }
            constraint {
              attribute = "${attr.consul.version}"
              version   = ">= 1.8.0"
            }
            constraint {
              distinct_property = "${meta.rack}"
              value             = "2"
            }
            affinity {
              attribute = "${node.class}"
              value     = "big"
              weight    = -50
            }
        }"#,
    );
    assert_eq!(
        api["Constraints"][0],
        json!({"Operand": "distinct_hosts", "RTarget": "true"})
    );
    assert_eq!(
        api["Constraints"][1],
        json!({"LTarget": "${attr.consul.version}", "Operand": "version", "RTarget": ">= 1.8.0"})
    );
    assert_eq!(
        api["Constraints"][2],
        json!({"LTarget": "${meta.rack}", "Operand": "distinct_property", "RTarget": "2"})
    );
    assert_eq!(api["Affinities"][0]["Operand"], "=");
    assert_eq!(api["Affinities"][0]["Weight"], -50);
    round_trip(&api);
}

#[test]
fn identities_scaling_periodic_and_parameterized() {
    let api = parse(
        r#"job "j" {
          type = "batch"
          periodic {
            crons            = ["*/5 * * * *"]
            prohibit_overlap = true
            time_zone        = "UTC"
          }
          parameterized {
            payload       = "required"
            meta_required = ["a"]
          }
          group "g" {
            scaling {
              min = 1
              max = 5
              policy { cooldown = "1m" }
            }
            task "t" {
              identity { env = true }
              identity {
                name = "vault_default"
                aud  = ["vault.io"]
                ttl  = "1h"
              }
              scaling "cpu" { max = 500 }
              dispatch_payload { file = "in.json" }
            }
          }
        }"#,
    );
    assert_eq!(
        api["Periodic"],
        json!({"Specs": ["*/5 * * * *"], "ProhibitOverlap": true, "TimeZone": "UTC", "SpecType": "cron"})
    );
    assert_eq!(
        api["ParameterizedJob"],
        json!({"Payload": "required", "MetaRequired": ["a"]})
    );
    let g = &api["TaskGroups"][0];
    assert_eq!(
        g["Scaling"],
        json!({"Type": "horizontal", "Min": 1, "Max": 5, "Policy": {"cooldown": "1m"}})
    );
    let t = &g["Tasks"][0];
    assert_eq!(t["Identity"], json!({"Env": true}));
    assert_eq!(
        t["Identities"],
        json!([{"Name": "vault_default", "Audience": ["vault.io"], "TTL": 3_600_000_000_000i64}])
    );
    assert_eq!(
        t["ScalingPolicies"],
        json!([{"Type": "vertical_cpu", "Max": 500}])
    );
    assert_eq!(t["DispatchPayload"], json!({"File": "in.json"}));
    // `SpecType` has no HCL name in Nomad's api.PeriodicConfig: a rendering that still writes
    // it as `spec_type` is refused by strict reading, as `nomad job run` refuses it.
    let hcl = api_to_jobspec(&api).unwrap();
    if hcl.contains("spec_type") {
        let err = jobspec_to_api(&hcl).unwrap_err();
        assert_eq!(err.kind, ParseErrorKind::UnknownField);
        assert_eq!(err.path.as_deref(), Some("job[j].periodic"));
        let lenient = HclOptions::new().allow_unknown(true);
        assert_eq!(jobspec_to_api_with(&hcl, &lenient).unwrap(), api);
    } else {
        round_trip(&api);
    }
}

#[test]
fn job_and_group_vault_and_job_level_tasks() {
    let api = parse(
        r#"job "j" {
          vault { policies = ["job"] }
          task "solo" { driver = "exec" }
          group "g" {
            vault { policies = ["group"] }
            task "a" {}
            task "b" {
              vault {
                policies = ["own"]
                env      = false
              }
            }
          }
        }"#,
    );
    let groups = api["TaskGroups"].as_array().unwrap();
    assert_eq!(groups[0]["Name"], "solo");
    assert_eq!(groups[0]["Tasks"][0]["Vault"]["Policies"], json!(["job"]));
    assert_eq!(
        groups[1]["Tasks"][0]["Vault"],
        json!({"Policies": ["group"], "Env": true, "DisableFile": false, "ChangeMode": "restart"})
    );
    assert_eq!(groups[1]["Tasks"][1]["Vault"]["Policies"], json!(["own"]));
    assert_eq!(groups[1]["Tasks"][1]["Vault"]["Env"], false);
    round_trip(&api);
}

#[test]
fn unknown_attributes_and_blocks_are_kept_both_ways() {
    let lenient = HclOptions::new().allow_unknown(true);
    let parse = |text: &str| jobspec_to_api_with(text, &lenient).unwrap();
    let round_trip = |api: &Value| {
        let hcl = api_to_jobspec(api).unwrap();
        assert_eq!(api, &jobspec_to_api_with(&hcl, &lenient).unwrap());
        hcl
    };
    let api = parse(
        r#"job "j" {
          future_flag = true
          tls_mode = "strict"
          new_thing {
            max_ttl = "5m"
            nested_block { a = 1 }
          }
          group "g" {
            rollout_step "one" { weight = 1 }
            rollout_step "two" { weight = 2 }
          }
        }"#,
    );
    assert_eq!(api["FutureFlag"], true);
    assert_eq!(api["TLSMode"], "strict");
    assert_eq!(
        api["NewThing"],
        json!({"MaxTTL": "5m", "NestedBlock": {"A": 1}})
    );
    assert_eq!(
        api["TaskGroups"][0]["RolloutStep"],
        json!([{"Name": "one", "Weight": 1}, {"Name": "two", "Weight": 2}])
    );
    let hcl = round_trip(&api);
    assert!(hcl.contains("tls_mode = \"strict\""));
    assert!(hcl.contains("new_thing {"));

    // Keys without a snake_case spelling that maps back are written as themselves or as
    // attributes holding the value.
    let api = json!({"ID": "j", "Uid": 5, "OneItem": [{"A": 1}], "Odd": {"a.b": 1, "Uid": 2}});
    let hcl = api_to_jobspec(&api).unwrap();
    assert!(hcl.contains("Uid = 5"), "{hcl}");
    let back = jobspec_to_api_with(&hcl, &lenient).unwrap();
    assert_eq!(back["Uid"], 5);
    assert_eq!(back["OneItem"], json!([{"A": 1}]));
    assert_eq!(back["Odd"], json!({"a.b": 1, "Uid": 2}));
}

#[test]
fn server_only_fields_are_not_rendered() {
    let api = json!({"Job": {"ID": "j", "Name": "j", "Status": "running", "Version": 3, "SubmitTime": 1,
        "CreateIndex": 10, "ModifyIndex": 11, "JobModifyIndex": 11, "Stable": true, "Stop": false,
        "StatusDescription": "", "Region": null, "Type": "service"}});
    let hcl = api_to_jobspec(&api).unwrap();
    assert_eq!(hcl, "job \"j\" {\n  type = \"service\"\n}\n");
}

#[test]
fn wrong_json_types_are_typed_errors_naming_the_field() {
    let api = json!({"ID": "web", "TaskGroups": [{"Name": "api", "Count": "3"}]});
    let err = api_to_jobspec(&api).unwrap_err();
    assert_eq!(err.family(), "validation");
    let fe = &err.field_errors()[0];
    assert_eq!(fe.path, "job[web].group[api].count");
    assert_eq!(fe.value.as_deref(), Some("\"3\""));

    let err = api_to_jobspec(&json!({"TaskGroups": []})).unwrap_err();
    assert!(matches!(err, Error::Validation(_)));
    assert_eq!(err.field_errors()[0].path, "Job.ID");

    let err = api_to_jobspec(&json!({"ID": "j", "TaskGroups": [{"Count": 1}]})).unwrap_err();
    assert_eq!(err.field_errors()[0].path, "job[j].group[0].Name");
}

#[test]
fn type_errors_name_the_path_and_line() {
    let err = jobspec_to_api("job \"x\" {\n  group \"y\" {\n    count = \"three\"\n  }\n}\n")
        .unwrap_err();
    assert_eq!(err.path.as_deref(), Some("job[x].group[y].count"));
    assert_eq!(err.line, Some(3));
    assert!(err.message.contains("whole number"), "{err}");

    let err = jobspec_to_api("job \"x\" {\n  update { stagger = \"3 parsecs\" }\n}").unwrap_err();
    assert_eq!(err.path.as_deref(), Some("job[x].update.stagger"));
    assert_eq!(err.line, Some(2));

    let err = jobspec_to_api(
        "job \"x\" {\n group \"g\" {\n network {\n port \"a\" { static = true }\n }\n }\n}",
    )
    .unwrap_err();
    assert_eq!(
        err.path.as_deref(),
        Some("job[x].group[g].network[0].port[a].static")
    );

    let err = jobspec_to_api("job \"x\" { datacenters = \"dc1\" }").unwrap_err();
    assert_eq!(err.path.as_deref(), Some("job[x].datacenters"));

    let err = jobspec_to_api("job \"x\" {\n  update = {}\n}").unwrap_err();
    assert_eq!(err.path.as_deref(), Some("job[x].update"));
    assert!(err.message.contains("must be written as a block"), "{err}");
    let err = jobspec_to_api("job \"x\" {\n  group \"g\" {\n    count {}\n  }\n}").unwrap_err();
    assert_eq!(err.path.as_deref(), Some("job[x].group[g].count"));
}

#[test]
fn invalid_documents_are_parse_errors() {
    let err = jobspec_to_api("job \"x\" {\n  count = \n}\n").unwrap_err();
    assert_eq!(err.line, Some(2));
    assert_eq!(
        jobspec_to_api("").unwrap_err().message,
        "missing job block: a jobspec needs `job \"<id>\" { ... }`"
    );
    assert!(jobspec_to_api("job \"a\" {}\njob \"b\" {}")
        .unwrap_err()
        .message
        .contains("only one job"));
    assert!(jobspec_to_api("job {}")
        .unwrap_err()
        .message
        .contains("exactly one label"));
    assert!(jobspec_to_api("x = 1\njob \"a\" {}")
        .unwrap_err()
        .message
        .contains("outside the job block"));
    let err =
        jobspec_to_api("job \"a\" {\n group \"g\" {\n restart {}\n restart {}\n }\n}").unwrap_err();
    assert_eq!(err.path.as_deref(), Some("job[a].group[g].restart"));
    assert_eq!(err.line, Some(4));
    let err =
        jobspec_to_api("job \"a\" {\n group \"g\" {\n count = 1\n count = 2\n }\n}").unwrap_err();
    assert!(err.message.contains("attribute redefined"), "{err}");
    assert_eq!(err.line, Some(4));
}

#[test]
fn invalid_utf8_reports_the_byte_offset() {
    let mut bytes = b"job \"a\" {\n  meta { k = \"".to_vec();
    bytes.extend_from_slice(&[0xff, 0xfe]);
    bytes.extend_from_slice(b"\" }\n}\n");
    let err = jobspec_bytes_to_api(&bytes).unwrap_err();
    assert_eq!(err.message, "invalid UTF-8 at byte offset 24");
    assert_eq!(err.line, Some(2));
    assert_eq!(jobspec_bytes_to_api(b"job \"a\" {}").unwrap()["ID"], "a");
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let depth = 10_000;
    let blocks = format!(
        "job \"a\" {{\n{}{}}}\n",
        "x {\n".repeat(depth),
        "}\n".repeat(depth)
    );
    assert!(jobspec_to_api(&blocks).is_err());
    let arrays = format!(
        "job \"a\" {{\n meta = {}1{}\n}}\n",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    assert!(jobspec_to_api(&arrays).is_err());
    let just_over = format!(
        "job \"a\" {{\n{}{}}}\n",
        "x {\n".repeat(MAX_NESTING_DEPTH + 1),
        "}\n".repeat(MAX_NESTING_DEPTH + 1)
    );
    assert!(jobspec_to_api(&just_over).is_err());

    let mut v = json!(1);
    for _ in 0..200 {
        v = json!({"Deeper": v});
    }
    let api = json!({"ID": "a", "Deep": v});
    assert!(api_to_jobspec(&api).is_err());
}

#[test]
fn a_ten_megabyte_jobspec_parses() {
    let group = "  group \"g%\" {\n    count = 2\n    network {\n      port \"http\" { to = 8080 }\n    }\n    task \"t\" {\n      driver = \"docker\"\n      config {\n        image = \"nginx:1.27\"\n        args  = [\"-p\", \"${NOMAD_PORT_http}\"]\n      }\n      resources {\n        cpu    = 100\n        memory = 64\n      }\n    }\n  }\n";
    let mut text = String::from("job \"big\" {\n");
    let mut n = 0;
    while text.len() < 10 * 1024 * 1024 {
        text.push_str(&group.replace('%', &n.to_string()));
        n += 1;
    }
    text.push_str("}\n");
    let api = parse(&text);
    let groups = api["TaskGroups"].as_array().unwrap();
    assert_eq!(groups.len(), n);
    assert_eq!(groups[n - 1]["Name"], format!("g{}", n - 1));
    assert_eq!(
        groups[n - 1]["Tasks"][0]["Config"]["args"][1],
        "${NOMAD_PORT_http}"
    );
}

#[test]
fn variables_and_locals() {
    let text = r#"
        variable "image" { default = "nginx:1.27" }
        variable "count" { type = number }
        variables { dc = "dc1" }
        locals {
          tag = "${var.image}-${local.suffix}"
          suffix = "x"
        }
        job "j" {
          datacenters = [var.dc]
          group "g" {
            count = var.count > 2 ? var.count : 2
            task "t" {
              config {
                image = local.tag
                port  = "${NOMAD_PORT_http}"
              }
            }
          }
        }"#;
    let err = jobspec_to_api(text).unwrap_err();
    assert_eq!(err.path.as_deref(), Some("variable[count]"));
    let mut vars = serde_json::Map::new();
    vars.insert("count".into(), json!(3));
    let api = jobspec_to_api_with_vars(text, &vars).unwrap();
    assert_eq!(api["Datacenters"], json!(["dc1"]));
    assert_eq!(api["TaskGroups"][0]["Count"], 3);
    assert_eq!(
        api["TaskGroups"][0]["Tasks"][0]["Config"],
        json!({"image": "nginx:1.27-x", "port": "${NOMAD_PORT_http}"})
    );

    vars.insert("nope".into(), json!(1));
    assert!(jobspec_to_api_with_vars(text, &vars)
        .unwrap_err()
        .message
        .contains("does not declare"));

    let api = jobspec_to_api("job \"j\" {\n  meta { a = upper(\"x\") }\n}").unwrap();
    assert_eq!(api["Meta"], json!({"a": "X"}));
    let err = jobspec_to_api("job \"j\" {\n  meta { a = var.missing }\n}").unwrap_err();
    assert!(err.message.contains("var.missing"), "{err}");
    assert_eq!(err.kind, ParseErrorKind::Reference);
    let err = jobspec_to_api("job \"j\" {\n  group \"g\" {\n    dynamic \"task\" {}\n  }\n}")
        .unwrap_err();
    assert!(err.message.contains("for_each"), "{err}");
}

#[test]
fn rendering_is_deterministic_and_ordered() {
    let api = parse(
        r#"job "j" {
          group "g" {
            task "t" { driver = "docker" }
            count = 1
          }
          type = "service"
          datacenters = ["dc1"]
        }"#,
    );
    let hcl = api_to_jobspec(&api).unwrap();
    assert_eq!(
        hcl,
        "job \"j\" {\n  type = \"service\"\n  datacenters = [\"dc1\"]\n\n  group \"g\" {\n    count = 1\n\n    task \"t\" {\n      driver = \"docker\"\n    }\n  }\n}\n"
    );
    assert_eq!(hcl, api_to_jobspec(&api).unwrap());
}
