//! diff / apply / destroy through the C ABI against an in-memory cluster, compared with the
//! core installer run on its own in-memory cluster.
#![allow(clippy::unwrap_used)]

use istio_nomad_core::install::{ApplyOptions, InMemoryCluster, Installer};
use istio_nomad_core::plan::plan;
use istio_nomad_core::spec::MeshSpec;
use istio_nomad_ffi::error::{istio_nomad_error_free, istio_nomad_error_json};
use istio_nomad_ffi::install::*;
use istio_nomad_ffi::string::{istio_nomad_string_data, istio_nomad_string_free};
use istio_nomad_ffi::{
    IstioNomadError, IstioNomadResult, IstioNomadString, ISTIO_NOMAD_FORMAT_AUTO,
    ISTIO_NOMAD_FORMAT_HCL,
};
use serde_json::Value;
use std::ffi::{c_char, c_void, CStr};
use std::ptr;

fn bookinfo() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/bookinfo.mesh.hcl"
    ))
    .unwrap()
}

unsafe extern "C" fn collect(event: *const c_char, user_data: *mut c_void) {
    let events = unsafe { &mut *user_data.cast::<Vec<Value>>() };
    let text = unsafe { CStr::from_ptr(event) }.to_str().unwrap();
    events.push(serde_json::from_str(text).unwrap());
}

type Op = unsafe extern "C" fn(
    *const IstioNomadCluster,
    *const u8,
    usize,
    u32,
    *const u8,
    usize,
    IstioNomadProgressCallback,
    *mut c_void,
    *mut *mut IstioNomadString,
    *mut *mut IstioNomadError,
) -> IstioNomadResult;

fn take(
    rc: IstioNomadResult,
    out: *mut IstioNomadString,
    err: *mut IstioNomadError,
) -> Result<Value, (IstioNomadResult, Value)> {
    let (mut out, mut err) = (out, err);
    if rc != IstioNomadResult::ISTIO_NOMAD_OK {
        let doc = serde_json::from_str(
            unsafe { CStr::from_ptr(istio_nomad_error_json(err)) }
                .to_str()
                .unwrap(),
        )
        .unwrap();
        unsafe { istio_nomad_error_free(&mut err) };
        return Err((rc, doc));
    }
    let v = serde_json::from_str(
        unsafe { CStr::from_ptr(istio_nomad_string_data(out)) }
            .to_str()
            .unwrap(),
    )
    .unwrap();
    unsafe { istio_nomad_string_free(&mut out) };
    Ok(v)
}

fn call(
    op: Op,
    cluster: *const IstioNomadCluster,
    spec: &str,
    options: &str,
    events: &mut Vec<Value>,
) -> Result<Value, (IstioNomadResult, Value)> {
    let mut out: *mut IstioNomadString = ptr::null_mut();
    let mut err: *mut IstioNomadError = ptr::null_mut();
    let rc = unsafe {
        op(
            cluster,
            spec.as_ptr(),
            spec.len(),
            ISTIO_NOMAD_FORMAT_AUTO,
            options.as_ptr(),
            options.len(),
            Some(collect),
            (events as *mut Vec<Value>).cast(),
            &mut out,
            &mut err,
        )
    };
    take(rc, out, err)
}

fn diff(cluster: *const IstioNomadCluster, spec: &str) -> Value {
    let mut out: *mut IstioNomadString = ptr::null_mut();
    let mut err: *mut IstioNomadError = ptr::null_mut();
    let rc = unsafe {
        istio_nomad_diff(
            cluster,
            spec.as_ptr(),
            spec.len(),
            ISTIO_NOMAD_FORMAT_AUTO,
            None,
            ptr::null_mut(),
            &mut out,
            &mut err,
        )
    };
    take(rc, out, err).unwrap()
}

/// The report without the fields that depend on timing: the elapsed time, and each job's
/// `job_modify_index`. The in-memory Nomad creates deployments asynchronously, after the register
/// returns, as Nomad's scheduler does (`nomad/job_endpoint.go` `Register` only enqueues an
/// evaluation); each deployment takes a raft index, so two clusters fed the same operations can
/// hand the same job different indexes. Each index is checked to be set before it is removed.
fn without_elapsed(mut v: Value) -> Value {
    let report = v.as_object_mut().unwrap();
    report.remove("elapsed_ms");
    if let Some(jobs) = report.get_mut("jobs").and_then(Value::as_array_mut) {
        for job in jobs {
            let job = job.as_object_mut().unwrap();
            if let Some(index) = job.remove("job_modify_index") {
                assert!(index.as_u64().is_some(), "job_modify_index {index}");
            }
        }
    }
    v
}

#[test]
fn apply_diff_destroy_bookinfo_in_memory() {
    let spec = bookinfo();
    let mut cluster: *mut IstioNomadCluster = ptr::null_mut();
    let rc = unsafe { istio_nomad_cluster_in_memory(&mut cluster, ptr::null_mut()) };
    assert_eq!(rc, IstioNomadResult::ISTIO_NOMAD_OK);
    assert!(unsafe { istio_nomad_cluster_is_in_memory(cluster) });

    // The same operations straight on the core, on a cluster of its own.
    let core_plan = plan(&MeshSpec::from_hcl(&spec).unwrap()).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let core = Installer::new(InMemoryCluster::new().backends());
    let core_diff = rt.block_on(core.diff(&core_plan)).unwrap();
    let core_apply = rt
        .block_on(core.apply(&core_plan, &ApplyOptions::default()))
        .unwrap();
    let core_again = rt
        .block_on(core.apply(&core_plan, &ApplyOptions::default()))
        .unwrap();
    let core_destroy = rt
        .block_on(core.destroy(&core_plan, &ApplyOptions::default()))
        .unwrap();

    let before = diff(cluster, &spec);
    assert_eq!(before, serde_json::to_value(&core_diff).unwrap());
    assert_eq!(before["in_sync"], false);

    let mut events = Vec::new();
    let applied = call(istio_nomad_apply, cluster, &spec, "", &mut events).unwrap();
    assert_eq!(
        without_elapsed(applied.clone()),
        without_elapsed(serde_json::to_value(&core_apply).unwrap())
    );
    let created: Vec<&str> = applied["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| j["action"] == "created")
        .map(|j| j["job_id"].as_str().unwrap())
        .collect();
    assert_eq!(created.len(), core_plan.jobs.len());
    // Events arrive in order on this thread: started first, finished last, every job healthy.
    assert_eq!(events.first().unwrap()["event"], "started");
    assert_eq!(events.first().unwrap()["operation"], "apply");
    assert_eq!(events.last().unwrap()["event"], "finished");
    let healthy = events
        .iter()
        .filter(|e| e["event"] == "job_healthy")
        .count();
    assert_eq!(healthy, core_plan.jobs.len());

    assert_eq!(diff(cluster, &spec)["in_sync"], true);
    let mut again_events = Vec::new();
    let again = call(
        istio_nomad_apply,
        cluster,
        &spec,
        "{\"lock_ttl_secs\": 5}",
        &mut again_events,
    )
    .unwrap();
    assert_eq!(
        without_elapsed(again.clone()),
        without_elapsed(serde_json::to_value(&core_again).unwrap())
    );
    assert_eq!(again["writes"]["total"], 0);

    let mut destroy_events = Vec::new();
    let destroyed = call(istio_nomad_destroy, cluster, &spec, "", &mut destroy_events).unwrap();
    assert_eq!(
        without_elapsed(destroyed.clone()),
        without_elapsed(serde_json::to_value(&core_destroy).unwrap())
    );
    assert_eq!(
        destroyed["deregistered"].as_array().unwrap().len(),
        core_plan.jobs.len()
    );
    assert!(destroy_events
        .iter()
        .any(|e| e["event"] == "job_deregistered"));
    assert_eq!(diff(cluster, &spec)["in_sync"], false);

    unsafe { istio_nomad_cluster_free(&mut cluster) };
    assert!(cluster.is_null());
    unsafe { istio_nomad_cluster_free(&mut cluster) };
}

#[test]
fn bad_arguments_of_the_installer() {
    let spec = bookinfo();
    let mut events = Vec::new();
    let (rc, doc) = call(istio_nomad_apply, ptr::null(), &spec, "", &mut events).unwrap_err();
    assert_eq!(rc, IstioNomadResult::ISTIO_NOMAD_NULL_ARGUMENT);
    assert_eq!(doc["fields"][0]["path"], "cluster");

    let mut cluster: *mut IstioNomadCluster = ptr::null_mut();
    unsafe { istio_nomad_cluster_in_memory(&mut cluster, ptr::null_mut()) };
    let (rc, doc) = call(
        istio_nomad_apply,
        cluster,
        &spec,
        "{\"lock_ttl_secs\": 0}",
        &mut events,
    )
    .unwrap_err();
    assert_eq!(rc, IstioNomadResult::ISTIO_NOMAD_VALIDATION);
    assert_eq!(doc["fields"][0]["path"], "lock_ttl");
    let (rc, doc) = call(
        istio_nomad_apply,
        cluster,
        &spec,
        "{\"prune\": 1}",
        &mut events,
    )
    .unwrap_err();
    assert_eq!(rc, IstioNomadResult::ISTIO_NOMAD_PARSE);
    assert_eq!(doc["fields"][0]["path"], "options.prune");
    let (rc, _) = call(
        istio_nomad_destroy,
        cluster,
        "mesh \"x\" {",
        "",
        &mut events,
    )
    .unwrap_err();
    assert_eq!(rc, IstioNomadResult::ISTIO_NOMAD_PARSE);
    assert!(events.is_empty(), "no operation ran: {events:?}");
    unsafe { istio_nomad_cluster_free(&mut cluster) };
}

#[test]
fn cluster_for_spec_follows_the_spec_and_the_environment() {
    use istio_nomad_core::install::ADDRESS_VARIABLES;
    let spec = bookinfo();
    let mut cluster: *mut IstioNomadCluster = ptr::null_mut();
    let rc = unsafe {
        istio_nomad_cluster_for_spec(
            spec.as_ptr(),
            spec.len(),
            ISTIO_NOMAD_FORMAT_AUTO,
            &mut cluster,
            ptr::null_mut(),
        )
    };
    assert_eq!(rc, IstioNomadResult::ISTIO_NOMAD_OK);
    let env_names_a_server = ADDRESS_VARIABLES
        .iter()
        .any(|v| std::env::var_os(v).is_some());
    // Bookinfo names no server: in memory unless the environment names one.
    assert_eq!(
        unsafe { istio_nomad_cluster_is_in_memory(cluster) },
        !env_names_a_server
    );
    unsafe { istio_nomad_cluster_free(&mut cluster) };

    // A spec that names its Nomad server talks HTTP.
    let remote = spec.replacen(
        "region",
        "nomad {\n    address = \"http://127.0.0.1:1\"\n  }\n  region",
        1,
    );
    let rc = unsafe {
        istio_nomad_cluster_for_spec(
            remote.as_ptr(),
            remote.len(),
            ISTIO_NOMAD_FORMAT_HCL,
            &mut cluster,
            ptr::null_mut(),
        )
    };
    assert_eq!(rc, IstioNomadResult::ISTIO_NOMAD_OK, "{:?}", unsafe {
        CStr::from_ptr(istio_nomad_ffi::error::istio_nomad_last_error_message())
    });
    assert!(!unsafe { istio_nomad_cluster_is_in_memory(cluster) });
    unsafe { istio_nomad_cluster_free(&mut cluster) };
}
