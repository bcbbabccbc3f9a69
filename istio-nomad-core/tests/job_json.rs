//! The job model reads and writes Nomad's API JSON without losing a field.
#![allow(clippy::unwrap_used)]

mod common;

use istio_nomad_core::nomad::{Job, Port, Task, TaskGroup};
use istio_nomad_core::Error;
use serde_json::json;

#[test]
fn api_example_job_round_trips_without_losing_a_field() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let text = std::fs::read_to_string(data.join("nomad-api-example-job.json")).unwrap();
    let original: serde_json::Value = serde_json::from_str(&text).unwrap();
    let job = Job::from_json(&text).unwrap();
    assert_eq!(job.id(), "example");
    let g = &job.task_groups[0];
    assert_eq!(g.name(), "cache");
    assert_eq!(g.count, Some(1));
    let t = &g.tasks[0];
    assert_eq!(t.name(), "redis");
    assert_eq!(t.driver.as_deref(), Some("docker"));
    assert_eq!(t.config["image"], "redis:7");
    assert_eq!(
        g.restart_policy.as_ref().unwrap().interval,
        Some(1_800_000_000_000)
    );
    let back = job.to_json_value().unwrap();
    let wrapped_inner = original.get("Job").cloned().unwrap_or(original.clone());
    assert_eq!(common::normalize(&back), common::normalize(&wrapped_inner));
}

#[test]
fn register_body_is_wrapped_and_ports_split() {
    let job = Job::new("web").group(
        TaskGroup::new("api")
            .network(istio_nomad_core::nomad::NetworkResource {
                mode: Some("bridge".into()),
                reserved_ports: vec![Port::fixed("admin", 15021, None)],
                dynamic_ports: vec![Port::dynamic("http", 9080)],
                ..Default::default()
            })
            .task(Task::new("app", "docker").config("image", "nginx")),
    );
    let body: serde_json::Value = serde_json::from_str(&job.to_register_json().unwrap()).unwrap();
    assert_eq!(
        body,
        json!({"Job": {"ID": "web", "Name": "web", "TaskGroups": [{"Name": "api", "Tasks": [{"Name": "app", "Driver": "docker", "Config": {"image": "nginx"}}],
            "Networks": [{"Mode": "bridge", "ReservedPorts": [{"Label": "admin", "Value": 15021}], "DynamicPorts": [{"Label": "http", "To": 9080}]}]}]}})
    );
}

#[test]
fn unknown_fields_are_kept_in_place() {
    let text = r#"{"ID":"x","FutureJobField":{"A":1},"TaskGroups":[{"Name":"g","NewGroupKnob":true,
        "Tasks":[{"Name":"t","Driver":"exec","Identity":{"Env":true},"Config":{"command":"/bin/true"}}]}]}"#;
    let job = Job::from_json(text).unwrap();
    assert_eq!(job.extra["FutureJobField"], json!({"A": 1}));
    assert_eq!(job.task_groups[0].extra["NewGroupKnob"], json!(true));
    let back = job.to_json_value().unwrap();
    assert_eq!(
        back,
        serde_json::from_str::<serde_json::Value>(text).unwrap()
    );
}

#[test]
fn wrong_type_names_the_path_and_line() {
    let text = "{\"ID\": \"x\",\n \"TaskGroups\": [{\"Name\": \"g\",\n \"Count\": \"three\"}]}";
    match Job::from_json(text) {
        Err(Error::Parse(p)) => {
            assert_eq!(p.path.as_deref(), Some("TaskGroups[0].Count"));
            assert!(
                p.message.contains("invalid type: string \"three\""),
                "{}",
                p.message
            );
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
    assert!(matches!(Job::from_json("[1,2]"), Err(Error::Parse(_))));
    assert!(matches!(Job::from_json(""), Err(Error::Parse(_))));
    assert!(matches!(
        Job::from_json("{\"ID\": \"x\"} trailing"),
        Err(Error::Parse(_))
    ));
}
