//! The Bookinfo plan: every file it writes matches its golden copy, every job validates with
//! Nomad's rules and against the Nomad OpenAPI schema, and HCL and JSON agree.
#![allow(clippy::unwrap_used)]

mod common;

use istio_nomad_core::nomad::Job;
use istio_nomad_core::plan::{plan, Plan, Role};
use istio_nomad_core::spec::MeshSpec;

fn bookinfo(profile: &str) -> Plan {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/bookinfo.mesh.hcl"
    ))
    .unwrap();
    let text = text.replace("profile = \"ha\"", &format!("profile = \"{profile}\""));
    plan(&MeshSpec::from_hcl(&text).unwrap()).unwrap()
}

#[test]
fn bookinfo_plan_files_match_golden() {
    for profile in ["ha", "dev"] {
        let plan = bookinfo(profile);
        let files = plan.files().unwrap();
        let mut listing = String::new();
        for (rel, contents) in &files {
            common::golden(&format!("plan/bookinfo-{profile}/{rel}"), contents);
            listing.push_str(rel);
            listing.push('\n');
        }
        // The list of files is itself golden, so a file that disappears is noticed too.
        common::golden(&format!("plan/bookinfo-{profile}/FILES"), &listing);
    }
}

#[test]
fn every_planned_job_passes_validation_schema_and_hcl_round_trip() {
    for profile in ["ha", "dev"] {
        let plan = bookinfo(profile);
        for pj in &plan.jobs {
            pj.job.validate().unwrap();
            let body = pj.job.to_json_value().unwrap();
            common::check_job_body_against_openapi(&body);
            let from_hcl = Job::from_hcl(&pj.job.to_hcl().unwrap()).unwrap();
            let a = common::normalize(&from_hcl.to_json_value().unwrap());
            let b = common::normalize(&body);
            if a != b {
                let (a, b) = (
                    serde_json::to_string_pretty(&a).unwrap(),
                    serde_json::to_string_pretty(&b).unwrap(),
                );
                for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
                    if x != y {
                        eprintln!("line {i}: hcl {x} | json {y}");
                        break;
                    }
                }
            }
            assert_eq!(a, b, "{}: HCL and JSON renderings differ", pj.job.id());
        }
    }
}

#[test]
fn bookinfo_order_is_the_dependency_graph() {
    let plan = bookinfo("ha");
    assert_eq!(
        plan.order().unwrap(),
        vec![
            vec!["bookinfo-etcd", "bookinfo-zipkin"],
            vec!["bookinfo-apiserver"],
            vec!["bookinfo-citadel", "bookinfo-mixer", "bookinfo-pilot"],
            vec!["details", "productpage", "ratings", "reviews"],
        ]
    );
    let reviews = plan.job("reviews").unwrap();
    assert_eq!(reviews.role, Role::App);
    let groups: Vec<&str> = reviews.job.task_groups.iter().map(|g| g.name()).collect();
    assert_eq!(groups, ["reviews-v1", "reviews-v2", "reviews-v3"]);
    let tags: Vec<&str> = reviews
        .job
        .task_groups
        .iter()
        .map(|g| g.services[0].tags[0].as_str())
        .collect();
    assert_eq!(tags, ["version|v1", "version|v2", "version|v3"]);
    assert_eq!(
        reviews.job.task_groups[0].services[0].meta["protocol"],
        "http"
    );
}

#[test]
fn ipv6_interception_writes_v6_rules_files_equal_to_the_plan_rendering() {
    use istio_nomad_core::iptables::{Family, IptablesPlan};
    let text = "mesh \"m\" {\n  sidecar {\n    intercept {\n      ipv6 = true\n    }\n  }\n  service \"web\" {\n    image = \"nginx:1.27\"\n    port \"http\" {\n      port = 8080\n    }\n  }\n}\n";
    let spec = MeshSpec::from_hcl(text).unwrap();
    let plan = plan(&spec).unwrap();
    let files = plan.files().unwrap();
    let names: Vec<&str> = files
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| n.starts_with("iptables/"))
        .collect();
    assert_eq!(
        names,
        [
            "iptables/web.web.rules",
            "iptables/web.web.cleanup.rules",
            "iptables/web.web.v6.rules",
            "iptables/web.web.v6.cleanup.rules"
        ]
    );
    let opts = spec.sidecar.options(&spec);
    let cfg = istio_nomad_core::plan::sidecar::group_rules(&opts)
        .unwrap()
        .config;
    let p = IptablesPlan::new(&cfg).unwrap();
    let v6 = &files
        .iter()
        .find(|(n, _)| n == "iptables/web.web.v6.rules")
        .unwrap()
        .1;
    assert_eq!(v6, &p.render_restore(Family::V6));
    assert!(v6.contains("::1/128"), "{v6}");
    let v6c = &files
        .iter()
        .find(|(n, _)| n == "iptables/web.web.v6.cleanup.rules")
        .unwrap()
        .1;
    assert_eq!(v6c, &p.render_cleanup_restore(Family::V6));
}
