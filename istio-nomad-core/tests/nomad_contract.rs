//! Contract tests of `HttpNomad` against a local mock HTTP server (wiremock) whose answers
//! follow Nomad's documented API: JSON bodies, plain-text errors, `X-Nomad-Index`.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{check_job_body_against_openapi, fast_options, web_job};
use istio_nomad_core::backend::nomad::{deployment_status, RegisterRequest};
use istio_nomad_core::backend::{
    BackendError, BasicAuth, HttpNomad, Nomad, NomadConfig, QueryOptions,
};
use serde_json::{json, Value};
use wiremock::matchers::{body_json, header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn client(server: &MockServer, attempts: u32) -> HttpNomad {
    let cfg = NomadConfig::builder()
        .address(server.uri())
        .token("nomad-secret-id")
        .namespace("mesh")
        .region("eu")
        .options(fast_options(attempts))
        .build()
        .unwrap();
    HttpNomad::new(&cfg).unwrap()
}

/// Every `Job` body the mock received (register, plan, validate): the test hook for schema
/// validation of what the client sends.
async fn job_bodies_sent(server: &MockServer) -> Vec<Value> {
    let mut out = Vec::new();
    for r in server.received_requests().await.unwrap_or_default() {
        if let Ok(v) = serde_json::from_slice::<Value>(&r.body) {
            if let Some(job) = v.get("Job") {
                out.push(job.clone());
            }
        }
    }
    out
}

async fn check_sent_jobs(server: &MockServer, expected: usize) {
    let jobs = job_bodies_sent(server).await;
    assert_eq!(jobs.len(), expected);
    for job in &jobs {
        check_job_body_against_openapi(job);
    }
}

fn plain(status: u16, text: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("Content-Type", "text/plain; charset=utf-8")
        .set_body_string(text)
}

fn indexed(body: Value, index: &str) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("X-Nomad-Index", index)
        .set_body_json(body)
}

#[tokio::test]
async fn register_sends_job_with_check_and_set() {
    let server = MockServer::start().await;
    let job = web_job("nginx:1.25", 2);
    Mock::given(method("POST"))
        .and(path("/v1/jobs"))
        .and(query_param("namespace", "mesh"))
        .and(query_param("region", "eu"))
        .and(header("X-Nomad-Token", "nomad-secret-id"))
        .and(header("Content-Type", "application/json"))
        .and(body_json(
            json!({"Job": job, "EnforceIndex": true, "JobModifyIndex": 0}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "EvalID": "d092fdc0-e1fd-2536-67d8-43af8ca798ac",
            "EvalCreateIndex": 35,
            "JobModifyIndex": 34,
            "Warnings": "",
            "Index": 35, "LastContact": 0, "KnownLeader": false
        })))
        .expect(1)
        .mount(&server)
        .await;
    let r = client(&server, 4)
        .register_job(&RegisterRequest::new(job).enforce_index(0))
        .await
        .unwrap();
    assert_eq!(r.eval_id, "d092fdc0-e1fd-2536-67d8-43af8ca798ac");
    assert_eq!((r.eval_create_index, r.job_modify_index), (35, 34));
    assert_eq!(r.warnings, "");
    check_sent_jobs(&server, 1).await;
}

#[tokio::test]
async fn register_check_and_set_failure_is_a_conflict_and_not_retried() {
    let server = MockServer::start().await;
    let text = "Enforcing job modify index 34: job exists with conflicting job modify index: 40";
    Mock::given(method("POST"))
        .and(path("/v1/jobs"))
        .respond_with(plain(500, text))
        .expect(1)
        .mount(&server)
        .await;
    let e = client(&server, 4)
        .register_job(&RegisterRequest::new(web_job("nginx:1.25", 1)).enforce_index(34))
        .await
        .unwrap_err();
    assert!(e.is_conflict(), "{e:?}");
    assert_eq!(e.status(), Some(500));
    assert!(!e.is_retryable());
    assert_eq!(
        e.to_string(),
        format!("nomad POST /v1/jobs: conflict: {text}")
    );
    check_sent_jobs(&server, 1).await;
}

#[tokio::test]
async fn register_500_is_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/jobs"))
        .respond_with(plain(
            500,
            "1 error occurred:\n\t* Missing job datacenters\n\n",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let e = client(&server, 4)
        .register_job(&RegisterRequest::new(web_job("nginx:1.25", 1)))
        .await
        .unwrap_err();
    match &e {
        BackendError::Http {
            status,
            message,
            path,
            ..
        } => {
            assert_eq!(*status, 500);
            assert_eq!(path, "/v1/jobs");
            assert_eq!(message, "1 error occurred:\n\t* Missing job datacenters");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        e.is_retryable(),
        "a 500 is transient in itself; register is still not repeated"
    );
}

#[tokio::test]
async fn get_500_is_retried_then_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/job/web"))
        .respond_with(plain(500, "rpc error: No cluster leader"))
        .up_to_n_times(2)
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/job/web"))
        .respond_with(indexed(json!({"ID": "web", "Version": 3}), "77"))
        .expect(1)
        .mount(&server)
        .await;
    let got = client(&server, 4)
        .read_job("web", &QueryOptions::new())
        .await
        .unwrap();
    assert_eq!(got.index, 77);
    assert_eq!(got.value, json!({"ID": "web", "Version": 3}));
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}

#[tokio::test]
async fn get_429_is_retried_until_attempts_run_out() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/job/web/allocations"))
        .respond_with(plain(429, "Too many requests").insert_header("Retry-After", "0"))
        .expect(3)
        .mount(&server)
        .await;
    let e = client(&server, 3)
        .job_allocations("web", false, &QueryOptions::new())
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(429));
    assert!(e.is_retryable());
    assert_eq!(
        e.to_string(),
        "nomad GET /v1/job/web/allocations: HTTP 429: Too many requests"
    );
}

#[tokio::test]
async fn client_errors_keep_status_and_text() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/job/ghost"))
        .respond_with(plain(404, "job not found"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/job/private"))
        .respond_with(plain(403, "Permission denied"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/job/web/plan"))
        .respond_with(plain(400, "Job ID does not match"))
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server, 4);
    let e = c.read_job("ghost", &QueryOptions::new()).await.unwrap_err();
    assert!(e.is_not_found());
    assert_eq!(
        e.to_string(),
        "nomad GET /v1/job/ghost: not found (HTTP 404): job not found"
    );
    let e = c
        .read_job("private", &QueryOptions::new())
        .await
        .unwrap_err();
    assert_eq!((e.status(), e.is_retryable()), (Some(403), false));
    assert_eq!(
        e.to_string(),
        "nomad GET /v1/job/private: HTTP 403: Permission denied"
    );
    let e = c.plan_job(&web_job("nginx:1", 1), true).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "nomad POST /v1/job/web/plan: HTTP 400: Job ID does not match"
    );
    check_sent_jobs(&server, 1).await;
}

#[tokio::test]
async fn blocking_query_sends_index_and_wait_and_reads_the_index() {
    let server = MockServer::start().await;
    let deployment = json!({
        "ID": "dep-1", "Namespace": "mesh", "JobID": "web", "JobVersion": 2, "JobModifyIndex": 40,
        "JobSpecModifyIndex": 40, "JobCreateIndex": 10, "Status": "successful",
        "StatusDescription": "Deployment completed successfully",
        "TaskGroups": {"frontend": {"AutoRevert": false, "Promoted": false, "DesiredCanaries": 0, "DesiredTotal": 2,
            "PlacedAllocs": 2, "HealthyAllocs": 2, "UnhealthyAllocs": 0, "ProgressDeadline": 600000000000_i64,
            "RequireProgressBy": "2026-01-01T00:10:00Z", "PlacedCanaries": null}},
        "CreateIndex": 41, "ModifyIndex": 52
    });
    Mock::given(method("GET"))
        .and(path("/v1/job/web/deployment"))
        .and(query_param("index", "41"))
        .and(query_param("wait", "2000ms"))
        .and(query_param("namespace", "mesh"))
        .respond_with(indexed(deployment, "52"))
        .expect(1)
        .mount(&server)
        .await;
    let got = client(&server, 1)
        .latest_deployment("web", &QueryOptions::blocking(41, Duration::from_secs(2)))
        .await
        .unwrap();
    assert_eq!(got.index, 52);
    let d = got.value.unwrap();
    assert_eq!(d.status, deployment_status::SUCCESSFUL);
    assert_eq!(d.task_groups["frontend"].healthy_allocs, 2);
    assert!(d.task_groups["frontend"].placed_canaries.is_empty());
}

#[tokio::test]
async fn no_deployment_is_null() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/job/batchy/deployment"))
        .and(query_param_is_missing("index"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("X-Nomad-Index", "9")
                .set_body_string("null"),
        )
        .mount(&server)
        .await;
    let got = client(&server, 1)
        .latest_deployment("batchy", &QueryOptions::new())
        .await
        .unwrap();
    assert_eq!((got.index, got.value), (9, None));
}

#[tokio::test]
async fn missing_or_malformed_index_is_an_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/job/a/evaluations"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/job/b/evaluations"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("X-Nomad-Index", "soon")
                .set_body_json(json!([])),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/job/c/evaluations"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("X-Nomad-Index", "0")
                .set_body_json(json!([])),
        )
        .mount(&server)
        .await;
    let c = client(&server, 1);
    let e = c
        .job_evaluations("a", &QueryOptions::new())
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "nomad /v1/job/a/evaluations: response has no X-Nomad-Index header"
    );
    let e = c
        .job_evaluations("b", &QueryOptions::new())
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "nomad /v1/job/b/evaluations: malformed X-Nomad-Index header \"soon\""
    );
    // Nomad reports a table's index, 0 before anything was written to it (hashicorp/nomad
    // nomad/job_endpoint.go LatestDeployment, nomad/state/state_store.go Index): valid.
    let r = c.job_evaluations("c", &QueryOptions::new()).await.unwrap();
    assert_eq!((r.index, r.value.len()), (0, 0));
}

#[tokio::test]
async fn first_deployment_read_of_a_fresh_cluster_answers_index_zero() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/job/bookinfo-etcd/deployment"))
        .and(query_param_is_missing("index"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("X-Nomad-Index", "0")
                .insert_header("Content-Type", "application/json")
                .set_body_string("null"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let r = client(&server, 1)
        .latest_deployment(
            "bookinfo-etcd",
            &QueryOptions::blocking(0, Duration::from_secs(5)),
        )
        .await
        .unwrap();
    assert_eq!(r.index, 0);
    assert!(r.value.is_none());
}

#[tokio::test]
async fn plan_decodes_diff_and_annotations() {
    let server = MockServer::start().await;
    let job = web_job("nginx:1.26", 3);
    Mock::given(method("POST"))
        .and(path("/v1/job/web/plan"))
        .and(body_json(json!({"Job": job, "Diff": true, "PolicyOverride": false})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "JobModifyIndex": 40,
            "CreatedEvals": null,
            "Diff": {"Type": "Edited", "ID": "web", "Fields": null, "Objects": null, "TaskGroups": [{
                "Type": "Edited", "Name": "frontend",
                "Fields": [{"Type": "Edited", "Name": "Count", "Old": "2", "New": "3", "Annotations": null}],
                "Objects": null,
                "Tasks": [{"Type": "Edited", "Name": "nginx", "Annotations": ["forces create/destroy update"],
                    "Fields": null,
                    "Objects": [{"Type": "Edited", "Name": "Config", "Objects": null,
                        "Fields": [{"Type": "Edited", "Name": "image", "Old": "nginx:1.25", "New": "nginx:1.26", "Annotations": null}]}]}],
                "Updates": {"create": 1, "create/destroy update": 2}}]},
            "Annotations": {"DesiredTGUpdates": {"frontend": {"Ignore": 0, "Place": 1, "Migrate": 0, "Stop": 0,
                "InPlaceUpdate": 0, "DestructiveUpdate": 2, "Canary": 0, "Preemptions": 0}}, "PreemptedAllocs": null},
            "FailedTGAllocs": null,
            "NextPeriodicLaunch": "0001-01-01T00:00:00Z",
            "Warnings": ""
        })))
        .expect(1)
        .mount(&server)
        .await;
    let p = client(&server, 1).plan_job(&job, true).await.unwrap();
    assert_eq!(p.job_modify_index, 40);
    let d = p.diff.unwrap();
    assert_eq!(d.kind, "Edited");
    let g = &d.task_groups[0];
    assert_eq!(g.fields[0].name, "Count");
    assert_eq!(g.tasks[0].objects[0].fields[0].new, "nginx:1.26");
    assert_eq!(g.updates.get("create/destroy update"), Some(&2));
    let u = &p.annotations.unwrap().desired_tg_updates["frontend"];
    assert_eq!((u.place, u.destructive_update), (1, 2));
    check_sent_jobs(&server, 1).await;
}

#[tokio::test]
async fn validate_versions_deregister_allocations_evaluations() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/validate/job"))
        .and(query_param("namespace", "mesh"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "DriverConfigValidated": true,
            "ValidationErrors": ["Task group frontend validation failed: Missing tasks for task group"],
            "Error": "1 error occurred:\n\t* Task group frontend validation failed: Missing tasks for task group\n\n",
            "Warnings": ""
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/job/web/versions"))
        .and(query_param("diffs", "true"))
        .respond_with(indexed(json!({"Versions": [{"ID": "web", "Version": 1}, {"ID": "web", "Version": 0}],
            "Diffs": [{"Type": "Edited", "ID": "web", "Fields": null, "Objects": null, "TaskGroups": null}]}), "60"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/v1/job/web"))
        .and(query_param("purge", "true"))
        .and(header("X-Nomad-Token", "nomad-secret-id"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"EvalID": "e-2", "EvalCreateIndex": 61, "JobModifyIndex": 61}),
            ),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/job/web/allocations"))
        .and(query_param("all", "true"))
        .respond_with(indexed(json!([{"ID": "a-1", "EvalID": "e-1", "Name": "web.frontend[0]", "Namespace": "mesh",
            "NodeID": "n-1", "NodeName": "client-1", "JobID": "web", "JobVersion": 1, "TaskGroup": "frontend",
            "DesiredStatus": "run", "DesiredDescription": "", "ClientStatus": "running", "ClientDescription": "Tasks are running",
            "DeploymentStatus": {"Healthy": true, "Canary": false, "Timestamp": "2026-01-01T00:00:00Z", "ModifyIndex": 58},
            "CreateIndex": 55, "ModifyIndex": 58, "CreateTime": 1, "ModifyTime": 2, "TaskStates": {}}]), "58"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/evaluation/e-404"))
        .respond_with(plain(404, "eval not found"))
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server, 1);
    let v = c
        .validate_job(&json!({"ID": "web", "TaskGroups": [{"Name": "frontend", "Tasks": []}]}))
        .await
        .unwrap();
    assert_eq!(
        v.validation_errors,
        vec!["Task group frontend validation failed: Missing tasks for task group".to_owned()]
    );
    let versions = c.job_versions("web", true).await.unwrap();
    assert_eq!(versions.index, 60);
    assert_eq!(versions.value.versions.len(), 2);
    assert_eq!(versions.value.diffs[0].kind, "Edited");
    let d = c.deregister_job("web", true).await.unwrap();
    assert_eq!((d.eval_id.as_str(), d.job_modify_index), ("e-2", 61));
    let allocs = c
        .job_allocations("web", true, &QueryOptions::new())
        .await
        .unwrap();
    assert_eq!(allocs.index, 58);
    assert_eq!(
        allocs.value[0].deployment_status.as_ref().unwrap().healthy,
        Some(true)
    );
    assert!(c
        .evaluation("e-404", &QueryOptions::new())
        .await
        .unwrap_err()
        .is_not_found());
}

#[tokio::test]
async fn slow_answers_time_out_and_reads_are_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/job/slow"))
        .respond_with(indexed(json!({"ID": "slow"}), "5").set_delay(Duration::from_millis(800)))
        .expect(2)
        .mount(&server)
        .await;
    let cfg = NomadConfig::builder()
        .address(server.uri())
        .options(fast_options(2).timeout(Duration::from_millis(150)))
        .build()
        .unwrap();
    let e = HttpNomad::new(&cfg)
        .unwrap()
        .read_job("slow", &QueryOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(e, BackendError::Timeout { .. }), "{e:?}");
    assert!(e.is_retryable());
}

#[tokio::test]
async fn connection_refused_is_a_connect_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = NomadConfig::builder()
        .address(format!("http://127.0.0.1:{port}"))
        .options(fast_options(2))
        .build()
        .unwrap();
    let e = HttpNomad::new(&cfg)
        .unwrap()
        .register_job(&RegisterRequest::new(web_job("x", 1)))
        .await
        .unwrap_err();
    match &e {
        BackendError::Connect {
            endpoint, message, ..
        } => {
            assert_eq!(endpoint, &format!("http://127.0.0.1:{port}"));
            assert!(message.starts_with("connection failed"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_429_from_the_connection_limiter_lets_even_a_register_be_retried() {
    // Nomad's connection limiter answers 429 and closes the connection before reading the
    // request (hashicorp/nomad command/agent/http.go connLimiter).
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/jobs"))
        .respond_with(plain(
            429,
            "Your IP is issuing too many concurrent connections, please rate limit your calls\n",
        ))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/jobs"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "EvalID": "e1", "EvalCreateIndex": 9, "JobModifyIndex": 9, "Warnings": ""
        })))
        .expect(1)
        .mount(&server)
        .await;
    let r = client(&server, 3)
        .register_job(&RegisterRequest::new(web_job("nginx:1.25", 1)).enforce_index(0))
        .await
        .unwrap();
    assert_eq!(r.job_modify_index, 9);
}

#[tokio::test]
async fn a_plan_rejected_by_validation_is_not_retried_but_a_leaderless_one_is() {
    let server = MockServer::start().await;
    let invalid =
        "1 error occurred:\n\t* Task group web validation failed: Missing tasks for task group\n\n";
    Mock::given(method("POST"))
        .and(path("/v1/job/bad/plan"))
        .respond_with(plain(500, invalid))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/job/web/plan"))
        .respond_with(plain(500, "No cluster leader"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/job/web/plan"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "JobModifyIndex": 0, "Diff": {"Type": "Added", "ID": "web"}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server, 4);
    let mut bad = web_job("nginx", 1);
    bad["ID"] = json!("bad");
    let e = c.plan_job(&bad, true).await.unwrap_err();
    assert_eq!(e.status(), Some(500));
    assert_eq!(
        e.to_string(),
        "nomad POST /v1/job/bad/plan: HTTP 500: 1 error occurred:\n\t* Task group web validation failed: Missing tasks for task group"
    );
    let p = c.plan_job(&web_job("nginx", 1), true).await.unwrap();
    assert_eq!(p.diff.unwrap().kind, "Added");
}

#[tokio::test]
async fn basic_auth_from_nomad_http_auth_travels_as_authorization() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/job/web"))
        .and(header("Authorization", "Basic b3BzOnMzY3JldA=="))
        .and(header("X-Nomad-Token", "nomad-secret-id"))
        .respond_with(plain(403, "Permission denied for ops:s3cret"))
        .expect(1)
        .mount(&server)
        .await;
    let cfg = NomadConfig::from_env_with(|k| match k {
        "NOMAD_ADDR" => Some(server.uri()),
        "NOMAD_TOKEN" => Some("nomad-secret-id".into()),
        "NOMAD_HTTP_AUTH" => Some("ops:s3cret".into()),
        _ => None,
    })
    .unwrap();
    assert_eq!(cfg.http_auth, Some(BasicAuth::new("ops", "s3cret")));
    let e = HttpNomad::new(&cfg)
        .unwrap()
        .read_job("web", &QueryOptions::new())
        .await
        .unwrap_err();
    // The server echoed the credentials: they never reach the error.
    assert_eq!(
        e.to_string(),
        "nomad GET /v1/job/web: HTTP 403: Permission denied for ops:[redacted]"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn unix_socket_address_reaches_the_agent_socket() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("nomad.sock");
    let mut heads = common::unix_http_server(
        &sock,
        200,
        vec![
            ("X-Nomad-Index".into(), "0".into()),
            ("Content-Type".into(), "application/json".into()),
        ],
        "null".into(),
    );
    let addr = format!("unix://{}", sock.display());
    let cfg = NomadConfig::from_env_with(|k| match k {
        "NOMAD_ADDR" => Some(addr.clone()),
        "NOMAD_NAMESPACE" => Some("mesh".into()),
        _ => None,
    })
    .unwrap();
    let n = HttpNomad::new(&cfg).unwrap();
    let r = n
        .latest_deployment("web", &QueryOptions::new())
        .await
        .unwrap();
    assert_eq!((r.index, r.value), (0, None));
    let head = heads.recv().await.unwrap();
    assert!(
        head.starts_with("get /v1/job/web/deployment?namespace=mesh http/1.1\r\n"),
        "{head}"
    );
    // The Go client puts 127.0.0.1 in Host over a socket (api/api.go newRequest).
    assert!(head.contains("host: 127.0.0.1\r\n"), "{head}");
}
