//! Nomad requests built as data, and their answers decoded, without I/O.

use serde::de::DeserializeOwned;
use serde_json::json;

use super::types::{
    AllocationListStub, Deployment, DeregisterResponse, Evaluation, JobVersions, PlanResponse,
    RegisterRequest, RegisterResponse, ValidateResponse,
};
use super::{job_id, job_json, JobBody, INDEX_HEADER, TOKEN_HEADER};
use crate::backend::request::{
    decode_json, encode_segment, index_header, Method, Request, Response,
};
use crate::backend::{wait_param, BackendResult, Indexed, QueryOptions, Secret, Service};

/// What every Nomad request carries: namespace, region and token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NomadContext {
    /// `?namespace=`.
    pub namespace: Option<String>,
    /// `?region=`.
    pub region: Option<String>,
    /// `X-Nomad-Token`.
    pub token: Option<Secret>,
    /// `Authorization: Basic ...` (`NOMAD_HTTP_AUTH`).
    pub http_auth: Option<Secret>,
}

impl NomadContext {
    fn request(&self, method: Method, path: String) -> Request {
        Request::new(Service::Nomad, method, path)
            .query_opt("namespace", self.namespace.as_deref())
            .query_opt("region", self.region.as_deref())
            .secret_header(TOKEN_HEADER, self.token.as_ref())
            .secret_header("Authorization", self.http_auth.as_ref())
            .retry_429_always(true)
    }

    fn read(&self, path: String, q: &QueryOptions) -> Request {
        let mut r = self.request(Method::Get, path);
        if let Some(index) = q.index.filter(|_| q.is_blocking()) {
            r = r
                .query("index", index.to_string())
                .query("wait", wait_param(q.effective_wait(Service::Nomad)))
                .hold(q.server_hold(Service::Nomad));
        }
        if q.stale {
            r = r.query("stale", "");
        }
        r
    }
}

fn job_path(id: &str, rest: &str) -> String {
    format!("/v1/job/{}{rest}", encode_segment(id))
}

/// `POST /v1/jobs` with `{Job, EnforceIndex, JobModifyIndex, ...}`. Not idempotent: only a
/// 429 (refused before it was read) or a connection failure is retried.
pub fn register(ctx: &NomadContext, req: &RegisterRequest) -> BackendResult<Request> {
    let job = job_json(&req.job)?;
    job_id(&job)?;
    let mut body = serde_json::Map::new();
    body.insert("Job".into(), job);
    if let Some(index) = req.enforce_index {
        body.insert("EnforceIndex".into(), json!(true));
        body.insert("JobModifyIndex".into(), json!(index));
    }
    if req.policy_override {
        body.insert("PolicyOverride".into(), json!(true));
    }
    if req.preserve_counts {
        body.insert("PreserveCounts".into(), json!(true));
    }
    if let Some(p) = req.eval_priority {
        body.insert("EvalPriority".into(), json!(p));
    }
    Ok(ctx
        .request(Method::Post, "/v1/jobs".into())
        .json(serde_json::Value::Object(body))
        .idempotent(false)
        .validation_500_final(true))
}

/// `POST /v1/job/:id/plan` with `{Job, Diff, PolicyOverride}`. Changes nothing, so it may
/// be retried, except after a 500 that carries the job's validation errors.
pub fn plan(ctx: &NomadContext, job: &JobBody, diff: bool) -> BackendResult<Request> {
    let job = job_json(job)?;
    let id = job_id(&job)?;
    Ok(ctx
        .request(Method::Post, job_path(&id, "/plan"))
        .json(json!({"Job": job, "Diff": diff, "PolicyOverride": false}))
        .idempotent(true)
        .validation_500_final(true))
}

/// `POST /v1/validate/job` with `{Job}`. May be retried.
pub fn validate(ctx: &NomadContext, job: &JobBody) -> BackendResult<Request> {
    let job = job_json(job)?;
    Ok(ctx
        .request(Method::Post, "/v1/validate/job".into())
        .json(json!({"Job": job}))
        .idempotent(true))
}

/// `GET /v1/job/:id`.
pub fn read_job(ctx: &NomadContext, id: &str, q: &QueryOptions) -> Request {
    ctx.read(job_path(id, ""), q)
}

/// `GET /v1/job/:id/versions[?diffs=true]`.
pub fn job_versions(ctx: &NomadContext, id: &str, diffs: bool) -> Request {
    let r = ctx.read(job_path(id, "/versions"), &QueryOptions::default());
    if diffs {
        r.query("diffs", "true")
    } else {
        r
    }
}

/// `DELETE /v1/job/:id[?purge=true]`. Not retried (each call creates an evaluation).
pub fn deregister(ctx: &NomadContext, id: &str, purge: bool) -> Request {
    let r = ctx
        .request(Method::Delete, job_path(id, ""))
        .idempotent(false);
    if purge {
        r.query("purge", "true")
    } else {
        r
    }
}

/// `GET /v1/job/:id/allocations[?all=true]`.
pub fn job_allocations(ctx: &NomadContext, id: &str, all: bool, q: &QueryOptions) -> Request {
    let r = ctx.read(job_path(id, "/allocations"), q);
    if all {
        r.query("all", "true")
    } else {
        r
    }
}

/// `GET /v1/job/:id/deployments`.
pub fn job_deployments(ctx: &NomadContext, id: &str, q: &QueryOptions) -> Request {
    ctx.read(job_path(id, "/deployments"), q)
}

/// `GET /v1/job/:id/deployment`.
pub fn latest_deployment(ctx: &NomadContext, id: &str, q: &QueryOptions) -> Request {
    ctx.read(job_path(id, "/deployment"), q)
}

/// `GET /v1/job/:id/evaluations`.
pub fn job_evaluations(ctx: &NomadContext, id: &str, q: &QueryOptions) -> Request {
    ctx.read(job_path(id, "/evaluations"), q)
}

/// `GET /v1/evaluation/:id`.
pub fn evaluation(ctx: &NomadContext, id: &str, q: &QueryOptions) -> Request {
    ctx.read(format!("/v1/evaluation/{}", encode_segment(id)), q)
}

/// `GET /v1/nodes`.
pub fn list_nodes(ctx: &NomadContext, q: &QueryOptions) -> Request {
    ctx.read("/v1/nodes".into(), q)
}

/// `GET /v1/node/:id`.
pub fn read_node(ctx: &NomadContext, id: &str, q: &QueryOptions) -> Request {
    ctx.read(format!("/v1/node/{}", encode_segment(id)), q)
}

/// Decoder of [`list_nodes`] (`null` reads as no nodes).
pub fn decode_nodes(
    req: &Request,
    resp: &Response,
) -> BackendResult<Indexed<Vec<super::NodeListStub>>> {
    decode_indexed::<Option<Vec<super::NodeListStub>>>(req, resp)
        .map(|i| i.map(Option::unwrap_or_default))
}

/// Decoder of [`read_node`].
pub fn decode_node(req: &Request, resp: &Response) -> BackendResult<Indexed<super::NodeInfo>> {
    decode_indexed(req, resp)
}

/// Decodes a JSON answer of a write.
pub fn decode<T: DeserializeOwned>(req: &Request, resp: &Response) -> BackendResult<T> {
    decode_json(req, resp)
}

/// Decodes a JSON answer of a read with its `X-Nomad-Index` (required; 0 is valid, see
/// [`crate::backend::Indexed::index`]).
pub fn decode_indexed<T: DeserializeOwned>(
    req: &Request,
    resp: &Response,
) -> BackendResult<Indexed<T>> {
    let value = decode_json(req, resp)?;
    let index = index_header(req, resp, INDEX_HEADER, true)?;
    Ok(Indexed::new(index, value))
}

/// Decoder of [`register`].
pub fn decode_register(req: &Request, resp: &Response) -> BackendResult<RegisterResponse> {
    decode(req, resp)
}

/// Decoder of [`plan`].
pub fn decode_plan(req: &Request, resp: &Response) -> BackendResult<PlanResponse> {
    decode(req, resp)
}

/// Decoder of [`validate`].
pub fn decode_validate(req: &Request, resp: &Response) -> BackendResult<ValidateResponse> {
    decode(req, resp)
}

/// Decoder of [`deregister`].
pub fn decode_deregister(req: &Request, resp: &Response) -> BackendResult<DeregisterResponse> {
    decode(req, resp)
}

/// Decoder of [`read_job`].
pub fn decode_job(req: &Request, resp: &Response) -> BackendResult<Indexed<JobBody>> {
    decode_indexed(req, resp)
}

/// Decoder of [`job_versions`].
pub fn decode_versions(req: &Request, resp: &Response) -> BackendResult<Indexed<JobVersions>> {
    decode_indexed(req, resp)
}

/// Decoder of [`job_allocations`] (`null` reads as no allocations).
pub fn decode_allocations(
    req: &Request,
    resp: &Response,
) -> BackendResult<Indexed<Vec<AllocationListStub>>> {
    decode_indexed::<Option<Vec<AllocationListStub>>>(req, resp)
        .map(|i| i.map(Option::unwrap_or_default))
}

/// Decoder of [`job_deployments`].
pub fn decode_deployments(
    req: &Request,
    resp: &Response,
) -> BackendResult<Indexed<Vec<Deployment>>> {
    decode_indexed::<Option<Vec<Deployment>>>(req, resp).map(|i| i.map(Option::unwrap_or_default))
}

/// Decoder of [`latest_deployment`] (`null`: no deployment).
pub fn decode_latest_deployment(
    req: &Request,
    resp: &Response,
) -> BackendResult<Indexed<Option<Deployment>>> {
    decode_indexed(req, resp)
}

/// Decoder of [`job_evaluations`].
pub fn decode_evaluations(
    req: &Request,
    resp: &Response,
) -> BackendResult<Indexed<Vec<Evaluation>>> {
    decode_indexed::<Option<Vec<Evaluation>>>(req, resp).map(|i| i.map(Option::unwrap_or_default))
}

/// Decoder of [`evaluation`].
pub fn decode_evaluation(req: &Request, resp: &Response) -> BackendResult<Indexed<Evaluation>> {
    decode_indexed(req, resp)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::time::Duration;

    use super::*;
    use crate::backend::request::{Body, HeaderValue};
    use crate::backend::BackendError;

    fn ctx() -> NomadContext {
        NomadContext {
            namespace: Some("mesh".into()),
            region: Some("eu".into()),
            token: Some(Secret::new("t0k")),
            http_auth: None,
        }
    }

    #[test]
    fn register_request_as_data() {
        let job = json!({"ID": "istio pilot", "TaskGroups": []});
        let r = register(&ctx(), &RegisterRequest::new(job.clone()).enforce_index(7)).unwrap();
        assert_eq!(r.method, Method::Post);
        assert_eq!(r.path, "/v1/jobs");
        assert_eq!(
            r.query,
            vec![
                ("namespace".into(), "mesh".into()),
                ("region".into(), "eu".into())
            ]
        );
        assert_eq!(
            r.header_value("x-nomad-token"),
            Some(&HeaderValue::Secret(Secret::new("t0k")))
        );
        assert_eq!(
            r.body,
            Body::Json(json!({"Job": job, "EnforceIndex": true, "JobModifyIndex": 7}))
        );
        assert!(!r.idempotent);
    }

    #[test]
    fn plan_path_is_encoded_and_retryable() {
        let r = plan(&NomadContext::default(), &json!({"ID": "a/b c"}), true).unwrap();
        assert_eq!(r.path, "/v1/job/a%2Fb%20c/plan");
        assert!(r.idempotent);
        assert!(r.query.is_empty());
        assert!(r.headers.is_empty());
    }

    #[test]
    fn job_without_id_is_refused() {
        let e = register(&ctx(), &RegisterRequest::new(json!({"Name": "x"}))).unwrap_err();
        assert_eq!(e.to_string(), "nomad: invalid request: Job.ID: missing");
        let e = plan(&ctx(), &json!({"ID": 3}), false).unwrap_err();
        assert_eq!(
            e.to_string(),
            "nomad: invalid request: Job.ID: must be a non-empty string, got 3"
        );
        let e = validate(&ctx(), &json!([1])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "nomad: invalid request: Job: the job must be a JSON object"
        );
    }

    #[test]
    fn blocking_read_params() {
        let r = latest_deployment(
            &ctx(),
            "web",
            &QueryOptions::blocking(12, Duration::from_secs(30)),
        );
        assert_eq!(r.path, "/v1/job/web/deployment");
        assert_eq!(r.query_value("index"), Some("12"));
        assert_eq!(r.query_value("wait"), Some("30000ms"));
        assert_eq!(
            r.hold,
            Duration::from_secs(30) + Duration::from_secs(30) / 16
        );
        let r = read_job(&ctx(), "web", &QueryOptions::new());
        assert_eq!(r.query_value("index"), None);
        assert_eq!(r.hold, Duration::ZERO);
        // Nomad caps a blocking wait at 300 s (MaxBlockingRPCQueryTime).
        let r = latest_deployment(
            &ctx(),
            "web",
            &QueryOptions::blocking(12, Duration::from_secs(600)),
        );
        assert_eq!(r.query_value("wait"), Some("300000ms"));
        assert_eq!(
            r.hold,
            Duration::from_secs(300) + Duration::from_secs(300) / 16
        );
        // An index of 0 does not block on the server: sent as a plain read.
        let r = latest_deployment(
            &ctx(),
            "web",
            &QueryOptions::blocking(0, Duration::from_secs(30)),
        );
        assert_eq!(r.query_value("index"), None);
        assert_eq!(r.hold, Duration::ZERO);
    }

    #[test]
    fn index_zero_decodes() {
        let r = latest_deployment(&ctx(), "web", &QueryOptions::new());
        let resp = Response::new(200, "null").with_header("X-Nomad-Index", "0");
        assert_eq!(
            decode_latest_deployment(&r, &resp).unwrap(),
            Indexed::new(0, None)
        );
        let resp = Response::new(200, "null").with_header("X-Nomad-Index", "zero");
        assert!(matches!(
            decode_latest_deployment(&r, &resp).unwrap_err(),
            BackendError::MalformedIndex { .. }
        ));
    }

    #[test]
    fn decode_missing_and_bad_index() {
        let r = read_job(&ctx(), "web", &QueryOptions::new());
        let ok = Response::new(200, r#"{"ID":"web"}"#).with_header("X-Nomad-Index", "9");
        assert_eq!(
            decode_job(&r, &ok).unwrap(),
            Indexed::new(9, json!({"ID": "web"}))
        );
        let e = decode_job(&r, &Response::new(200, r#"{"ID":"web"}"#)).unwrap_err();
        assert!(matches!(e, BackendError::MissingIndex { .. }), "{e:?}");
        let e = decode_job(&r, &Response::new(404, "job not found")).unwrap_err();
        assert!(e.is_not_found(), "{e:?}");
    }
}
