//! Consul requests built as data, and their answers decoded, without I/O.

use super::types::{
    CatalogService, KvPair, ServiceEntry, ServiceRegistration, SessionInfo, SessionRequest,
    TxnError, TxnOp, TxnResponse,
};
use super::{INDEX_HEADER, TOKEN_HEADER};
use crate::backend::request::{
    check_status, decode_json, encode_key_path, encode_segment, error_from_response, index_header,
    Method, Request, Response,
};
use crate::backend::{
    wait_param, BackendError, BackendResult, Indexed, QueryOptions, Secret, Service,
};

/// Largest KV value Consul accepts.
pub const MAX_VALUE_SIZE: usize = 512 * 1024;

/// What every Consul request carries: namespace, datacenter and token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsulContext {
    /// `?ns=` (Consul Enterprise).
    pub namespace: Option<String>,
    /// `?dc=`.
    pub datacenter: Option<String>,
    /// `X-Consul-Token`.
    pub token: Option<Secret>,
    /// `Authorization: Basic ...` (`CONSUL_HTTP_AUTH`).
    pub http_auth: Option<Secret>,
}

impl ConsulContext {
    fn request(&self, method: Method, path: String) -> Request {
        Request::new(Service::Consul, method, path)
            .query_opt("dc", self.datacenter.as_deref())
            .query_opt("ns", self.namespace.as_deref())
            .secret_header(TOKEN_HEADER, self.token.as_ref())
            .secret_header("Authorization", self.http_auth.as_ref())
    }

    fn read(&self, path: String, q: &QueryOptions) -> Request {
        let mut r = self.request(Method::Get, path);
        if let Some(index) = q.index.filter(|_| q.is_blocking()) {
            r = r
                .query("index", index.to_string())
                .query("wait", wait_param(q.effective_wait(Service::Consul)))
                .hold(q.server_hold(Service::Consul));
        }
        if q.stale {
            r = r.query("stale", "");
        }
        r
    }
}

fn check_key(key: &str) -> BackendResult<()> {
    if key.is_empty() {
        return Err(BackendError::InvalidRequest {
            service: Service::Consul,
            field: "key".into(),
            message: "the key must not be empty".into(),
        });
    }
    Ok(())
}

/// `PUT /v1/agent/service/register[?replace-existing-checks=true]`. Not retried.
pub fn register_service(
    ctx: &ConsulContext,
    svc: &ServiceRegistration,
    replace_existing_checks: bool,
) -> BackendResult<Request> {
    if svc.name.is_empty() {
        return Err(BackendError::InvalidRequest {
            service: Service::Consul,
            field: "Name".into(),
            message: "the service name must not be empty".into(),
        });
    }
    let body = serde_json::to_value(svc).map_err(|e| BackendError::InvalidRequest {
        service: Service::Consul,
        field: "service".into(),
        message: e.to_string(),
    })?;
    let mut r = ctx
        .request(Method::Put, "/v1/agent/service/register".into())
        .json(body)
        .idempotent(false);
    if replace_existing_checks {
        r = r.query("replace-existing-checks", "true");
    }
    Ok(r)
}

/// `PUT /v1/agent/service/deregister/:id`. Not retried.
pub fn deregister_service(ctx: &ConsulContext, service_id: &str) -> Request {
    ctx.request(
        Method::Put,
        format!(
            "/v1/agent/service/deregister/{}",
            encode_segment(service_id)
        ),
    )
    .idempotent(false)
}

/// `GET /v1/catalog/service/:name`.
pub fn catalog_service(ctx: &ConsulContext, name: &str, q: &QueryOptions) -> Request {
    ctx.read(format!("/v1/catalog/service/{}", encode_segment(name)), q)
}

/// `GET /v1/health/service/:name[?passing=1]`.
pub fn health_service(ctx: &ConsulContext, name: &str, passing: bool, q: &QueryOptions) -> Request {
    let r = ctx.read(format!("/v1/health/service/{}", encode_segment(name)), q);
    if passing {
        r.query("passing", "1")
    } else {
        r
    }
}

/// `GET /v1/kv/:key`.
pub fn kv_get(ctx: &ConsulContext, key: &str, q: &QueryOptions) -> BackendResult<Request> {
    check_key(key)?;
    Ok(ctx.read(format!("/v1/kv/{}", encode_key_path(key)), q))
}

/// `GET /v1/kv/:prefix?recurse=true` (an empty prefix lists everything).
pub fn kv_list(ctx: &ConsulContext, prefix: &str, q: &QueryOptions) -> Request {
    ctx.read(format!("/v1/kv/{}", encode_key_path(prefix)), q)
        .query("recurse", "true")
}

/// `PUT /v1/kv/:key[?cas=N]` with the raw value. Not retried (a repeated `cas` write
/// would report `false`).
pub fn kv_put(
    ctx: &ConsulContext,
    key: &str,
    value: &[u8],
    cas: Option<u64>,
) -> BackendResult<Request> {
    check_key(key)?;
    if value.len() > MAX_VALUE_SIZE {
        return Err(BackendError::InvalidRequest {
            service: Service::Consul,
            field: "value".into(),
            message: format!(
                "{} bytes exceed the {MAX_VALUE_SIZE} byte limit",
                value.len()
            ),
        });
    }
    let mut r = ctx
        .request(Method::Put, format!("/v1/kv/{}", encode_key_path(key)))
        .bytes(value.to_vec())
        .idempotent(false);
    if let Some(cas) = cas {
        r = r.query("cas", cas.to_string());
    }
    Ok(r)
}

/// `DELETE /v1/kv/:key[?cas=N]`. Not retried.
pub fn kv_delete(ctx: &ConsulContext, key: &str, cas: Option<u64>) -> BackendResult<Request> {
    check_key(key)?;
    let mut r = ctx
        .request(Method::Delete, format!("/v1/kv/{}", encode_key_path(key)))
        .idempotent(false);
    if let Some(cas) = cas {
        r = r.query("cas", cas.to_string());
    }
    Ok(r)
}

/// `PUT /v1/kv/:key?acquire=<session>` (`release` false) or `?release=<session>` with the
/// value. Not retried.
pub fn kv_lock(
    ctx: &ConsulContext,
    key: &str,
    value: &[u8],
    session: &str,
    release: bool,
) -> BackendResult<Request> {
    check_key(key)?;
    if session.is_empty() {
        return Err(BackendError::InvalidRequest {
            service: Service::Consul,
            field: "session".into(),
            message: "the session ID must not be empty".into(),
        });
    }
    let r = kv_put(ctx, key, value, None)?;
    Ok(r.query(if release { "release" } else { "acquire" }, session))
}

fn go_duration(d: std::time::Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis().max(1))
    }
}

/// `PUT /v1/session/create` with `{Name, TTL, LockDelay, Behavior}` (Go duration strings).
/// Not retried (each call creates a session).
pub fn session_create(ctx: &ConsulContext, s: &SessionRequest) -> Request {
    let mut body = serde_json::Map::new();
    body.insert("Name".into(), s.name.clone().into());
    body.insert("Behavior".into(), s.behavior.as_str().into());
    if let Some(ttl) = s.ttl {
        body.insert("TTL".into(), go_duration(ttl).into());
    }
    if let Some(d) = s.lock_delay {
        body.insert("LockDelay".into(), go_duration(d).into());
    }
    ctx.request(Method::Put, "/v1/session/create".into())
        .json(serde_json::Value::Object(body))
        .idempotent(false)
}

/// `PUT /v1/session/renew/:id`. Renewing twice is harmless: may be retried.
pub fn session_renew(ctx: &ConsulContext, id: &str) -> Request {
    ctx.request(
        Method::Put,
        format!("/v1/session/renew/{}", encode_segment(id)),
    )
    .idempotent(true)
}

/// `PUT /v1/session/destroy/:id`. Destroying twice is harmless: may be retried.
pub fn session_destroy(ctx: &ConsulContext, id: &str) -> Request {
    ctx.request(
        Method::Put,
        format!("/v1/session/destroy/{}", encode_segment(id)),
    )
    .idempotent(true)
}

/// `GET /v1/session/info/:id`.
pub fn session_info(ctx: &ConsulContext, id: &str, q: &QueryOptions) -> Request {
    ctx.read(format!("/v1/session/info/{}", encode_segment(id)), q)
}

/// Most operations Consul takes in one transaction (`maxTxnOps`, hashicorp/consul
/// `agent/txn_endpoint.go`).
pub const MAX_TXN_OPS: usize = 64;

/// `PUT /v1/txn` with the operations. Not retried (a repeated `cas` would fail).
pub fn txn(ctx: &ConsulContext, ops: &[TxnOp]) -> BackendResult<Request> {
    if ops.is_empty() || ops.len() > MAX_TXN_OPS {
        return Err(BackendError::InvalidRequest {
            service: Service::Consul,
            field: "ops".into(),
            message: format!(
                "a transaction holds 1 to {MAX_TXN_OPS} operations, got {}",
                ops.len()
            ),
        });
    }
    for op in ops {
        if op.key().is_empty() && !matches!(op, TxnOp::GetTree { .. }) {
            return Err(BackendError::InvalidRequest {
                service: Service::Consul,
                field: "key".into(),
                message: format!("the key of a {} operation must not be empty", op.verb()),
            });
        }
    }
    let body: Vec<serde_json::Value> = ops.iter().map(TxnOp::to_json).collect();
    Ok(ctx
        .request(Method::Put, "/v1/txn".into())
        .json(serde_json::Value::Array(body))
        .idempotent(false))
}

/// Decoder of [`session_create`]: `{"ID": "..."}`.
pub fn decode_session_create(req: &Request, resp: &Response) -> BackendResult<String> {
    #[derive(serde::Deserialize)]
    struct Created {
        #[serde(rename = "ID")]
        id: String,
    }
    let c: Created = decode_json(req, resp)?;
    if c.id.is_empty() {
        return Err(BackendError::Decode {
            service: Service::Consul,
            path: req.path.clone(),
            message: "empty session ID".into(),
        });
    }
    Ok(c.id)
}

/// Decoder of [`session_renew`]: the session, `None` when it no longer exists (HTTP 404,
/// hashicorp/consul `agent/session_endpoint.go` `SessionRenew`).
pub fn decode_session_renew(req: &Request, resp: &Response) -> BackendResult<Option<SessionInfo>> {
    if resp.status == 404 {
        return Ok(None);
    }
    let v: Option<Vec<SessionInfo>> = decode_json(req, resp)?;
    Ok(v.unwrap_or_default().into_iter().next())
}

/// Decoder of [`session_info`]: the session, `None` when it does not exist (an empty list).
pub fn decode_session_info(
    req: &Request,
    resp: &Response,
) -> BackendResult<Indexed<Option<SessionInfo>>> {
    let v: Option<Vec<SessionInfo>> = decode_json(req, resp)?;
    Ok(Indexed::new(
        index_header(req, resp, INDEX_HEADER, false)?,
        v.unwrap_or_default().into_iter().next(),
    ))
}

/// Decoder of [`txn`]: 200 with `Results`, or 409 with `Errors` (a transaction that was
/// rolled back is an answer, not an error).
pub fn decode_txn(req: &Request, resp: &Response) -> BackendResult<TxnResponse> {
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct Result {
        #[serde(rename = "KV")]
        kv: Option<KvPair>,
    }
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct Body {
        #[serde(rename = "Results")]
        results: Option<Vec<Result>>,
        #[serde(rename = "Errors")]
        errors: Option<Vec<TxnError>>,
    }
    let decode = |bytes: &[u8]| -> BackendResult<Body> {
        serde_json::from_slice(bytes).map_err(|e| BackendError::Decode {
            service: Service::Consul,
            path: req.path.clone(),
            message: e.to_string(),
        })
    };
    let body = if resp.status == 409 {
        decode(&resp.body)?
    } else {
        check_status(req, resp)?;
        decode(&resp.body)?
    };
    let out = TxnResponse {
        results: body
            .results
            .unwrap_or_default()
            .into_iter()
            .filter_map(|r| r.kv)
            .collect(),
        errors: body.errors.unwrap_or_default(),
    };
    if resp.status == 409 && out.errors.is_empty() {
        return Err(error_from_response(req, resp));
    }
    Ok(out)
}

/// Decoder of writes that answer with an empty body.
pub fn decode_empty(req: &Request, resp: &Response) -> BackendResult<()> {
    check_status(req, resp)
}

/// Decoder of KV writes: the body is `true` or `false`.
pub fn decode_bool(req: &Request, resp: &Response) -> BackendResult<bool> {
    check_status(req, resp)?;
    match resp.text().trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(BackendError::Decode {
            service: Service::Consul,
            path: req.path.clone(),
            message: format!(
                "expected true or false, got {:?}",
                other.chars().take(64).collect::<String>()
            ),
        }),
    }
}

/// Decoder of [`catalog_service`].
pub fn decode_catalog(
    req: &Request,
    resp: &Response,
) -> BackendResult<Indexed<Vec<CatalogService>>> {
    let v: Option<Vec<CatalogService>> = decode_json(req, resp)?;
    Ok(Indexed::new(
        index_header(req, resp, INDEX_HEADER, false)?,
        v.unwrap_or_default(),
    ))
}

/// Decoder of [`health_service`].
pub fn decode_health(req: &Request, resp: &Response) -> BackendResult<Indexed<Vec<ServiceEntry>>> {
    let v: Option<Vec<ServiceEntry>> = decode_json(req, resp)?;
    Ok(Indexed::new(
        index_header(req, resp, INDEX_HEADER, false)?,
        v.unwrap_or_default(),
    ))
}

/// Decoder of [`kv_get`]: 404 is an absent key (the index header is still required).
pub fn decode_kv_get(req: &Request, resp: &Response) -> BackendResult<Indexed<Option<KvPair>>> {
    if resp.status == 404 {
        return Ok(Indexed::new(
            index_header(req, resp, INDEX_HEADER, false)?,
            None,
        ));
    }
    let v: Vec<KvPair> = decode_json(req, resp)?;
    let index = index_header(req, resp, INDEX_HEADER, false)?;
    Ok(Indexed::new(index, v.into_iter().next()))
}

/// Decoder of [`kv_list`]: 404 is an empty prefix.
pub fn decode_kv_list(req: &Request, resp: &Response) -> BackendResult<Indexed<Vec<KvPair>>> {
    if resp.status == 404 {
        return Ok(Indexed::new(
            index_header(req, resp, INDEX_HEADER, false)?,
            Vec::new(),
        ));
    }
    let v: Vec<KvPair> = decode_json(req, resp)?;
    let index = index_header(req, resp, INDEX_HEADER, false)?;
    Ok(Indexed::new(index, v))
}

/// The typed error of a non-2xx answer.
pub fn error(req: &Request, resp: &Response) -> BackendError {
    error_from_response(req, resp)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::time::Duration;

    use super::*;
    use crate::backend::request::{Body, HeaderValue};

    fn ctx() -> ConsulContext {
        ConsulContext {
            namespace: Some("team".into()),
            datacenter: None,
            token: Some(Secret::new("c-token")),
            http_auth: None,
        }
    }

    #[test]
    fn kv_put_with_cas() {
        let r = kv_put(&ctx(), "istio-nomad/state/a b", b"v1", Some(0)).unwrap();
        assert_eq!(r.method, Method::Put);
        assert_eq!(r.path, "/v1/kv/istio-nomad/state/a%20b");
        assert_eq!(
            r.query,
            vec![("ns".into(), "team".into()), ("cas".into(), "0".into())]
        );
        assert_eq!(r.body, Body::Bytes(b"v1".to_vec()));
        assert_eq!(
            r.header_value("X-Consul-Token"),
            Some(&HeaderValue::Secret(Secret::new("c-token")))
        );
        assert!(!r.idempotent);
    }

    #[test]
    fn blocking_health_read() {
        let r = health_service(
            &ConsulContext::default(),
            "pilot",
            true,
            &QueryOptions::blocking(5, Duration::from_millis(1500)),
        );
        assert_eq!(r.path, "/v1/health/service/pilot");
        assert_eq!(
            r.query,
            vec![
                ("index".into(), "5".into()),
                ("wait".into(), "1500ms".into()),
                ("passing".into(), "1".into())
            ]
        );
        assert!(r.idempotent);
    }

    #[test]
    fn absent_key_keeps_index() {
        let r = kv_get(&ctx(), "k", &QueryOptions::new()).unwrap();
        let resp = Response::new(404, "").with_header("X-Consul-Index", "17");
        assert_eq!(decode_kv_get(&r, &resp).unwrap(), Indexed::new(17, None));
        let e = decode_kv_get(&r, &Response::new(404, "")).unwrap_err();
        assert!(
            matches!(
                e,
                BackendError::MissingIndex {
                    header: "X-Consul-Index",
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn kv_values_are_base64() {
        let r = kv_get(&ctx(), "k", &QueryOptions::new()).unwrap();
        let body = r#"[{"Key":"k","Value":"aGVsbG8=","Flags":0,"CreateIndex":3,"ModifyIndex":9,"LockIndex":0}]"#;
        let got = decode_kv_get(
            &r,
            &Response::new(200, body).with_header("X-Consul-Index", "9"),
        )
        .unwrap();
        let pair = got.value.unwrap();
        assert_eq!(pair.value, b"hello");
        assert_eq!((pair.create_index, pair.modify_index), (3, 9));
        let null_value =
            r#"[{"Key":"k","Value":null,"Flags":0,"CreateIndex":3,"ModifyIndex":9,"LockIndex":0}]"#;
        let got = decode_kv_get(
            &r,
            &Response::new(200, null_value).with_header("X-Consul-Index", "9"),
        )
        .unwrap();
        assert_eq!(got.value.unwrap().value, b"");
    }

    #[test]
    fn session_and_txn_requests_as_data() {
        use super::super::types::SessionBehavior;
        let r = session_create(
            &ctx(),
            &SessionRequest::new("istio-nomad bookinfo")
                .ttl(Duration::from_secs(15))
                .lock_delay(Duration::from_secs(15))
                .behavior(SessionBehavior::Delete),
        );
        assert_eq!(
            (r.method, r.path.as_str()),
            (Method::Put, "/v1/session/create")
        );
        assert_eq!(
            r.body,
            Body::Json(serde_json::json!({
                "Name": "istio-nomad bookinfo", "Behavior": "delete", "TTL": "15s", "LockDelay": "15s"
            }))
        );
        assert!(!r.idempotent);
        let r = session_renew(&ctx(), "a b");
        assert_eq!(r.path, "/v1/session/renew/a%20b");
        assert!(r.idempotent);
        let r = kv_lock(&ctx(), "mesh/lock", b"me", "s-1", false).unwrap();
        assert_eq!(r.query_value("acquire"), Some("s-1"));
        let r = kv_lock(&ctx(), "mesh/lock", b"", "s-1", true).unwrap();
        assert_eq!(r.query_value("release"), Some("s-1"));
        let r = txn(
            &ctx(),
            &[
                TxnOp::CheckSession {
                    key: "mesh/lock".into(),
                    session: "s-1".into(),
                },
                TxnOp::Cas {
                    key: "mesh/spec".into(),
                    value: b"v".to_vec(),
                    index: 7,
                },
            ],
        )
        .unwrap();
        assert_eq!(
            r.body,
            Body::Json(serde_json::json!([
                {"KV": {"Verb": "check-session", "Key": "mesh/lock", "Session": "s-1"}},
                {"KV": {"Verb": "cas", "Key": "mesh/spec", "Value": "dg==", "Index": 7}}
            ]))
        );
        assert!(!r.idempotent);
        assert!(txn(&ctx(), &[]).is_err());
    }

    #[test]
    fn txn_answers() {
        let r = txn(&ctx(), &[TxnOp::Get { key: "k".into() }]).unwrap();
        let ok = Response::new(
            200,
            r#"{"Results":[{"KV":{"Key":"k","Value":"dg==","Flags":0,"Session":"","LockIndex":0,"CreateIndex":3,"ModifyIndex":9}}],"Errors":null}"#,
        );
        let got = decode_txn(&r, &ok).unwrap();
        assert!(got.succeeded());
        assert_eq!(got.results[0].value, b"v");
        assert_eq!(got.results[0].modify_index, 9);
        let conflict = Response::new(
            409,
            r#"{"Results":null,"Errors":[{"OpIndex":0,"What":"failed session check for key \"m/lock\", current session \"\" != \"s-1\""}]}"#,
        );
        let got = decode_txn(&r, &conflict).unwrap();
        assert!(!got.succeeded());
        assert_eq!(got.errors[0].op_index, 0);
        assert!(got.errors[0].what.starts_with("failed session check"));
        let e = decode_txn(
            &r,
            &Response::new(413, "Transaction contains too many operations (65 > 64)"),
        )
        .unwrap_err();
        assert_eq!(e.status(), Some(413));
    }

    #[test]
    fn empty_key_and_huge_value_refused() {
        assert_eq!(
            kv_put(&ctx(), "", b"", None).unwrap_err().to_string(),
            "consul: invalid request: key: the key must not be empty"
        );
        let big = vec![0u8; MAX_VALUE_SIZE + 1];
        assert_eq!(
            kv_put(&ctx(), "k", &big, None).unwrap_err().to_string(),
            "consul: invalid request: value: 524289 bytes exceed the 524288 byte limit"
        );
    }
}
