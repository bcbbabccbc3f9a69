//! Consul requests built as data, and their answers decoded, without I/O.

use super::types::{CatalogService, KvPair, ServiceEntry, ServiceRegistration};
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
}

impl ConsulContext {
    fn request(&self, method: Method, path: String) -> Request {
        Request::new(Service::Consul, method, path)
            .query_opt("dc", self.datacenter.as_deref())
            .query_opt("ns", self.namespace.as_deref())
            .secret_header(TOKEN_HEADER, self.token.as_ref())
    }

    fn read(&self, path: String, q: &QueryOptions) -> Request {
        let mut r = self.request(Method::Get, path);
        if let Some(index) = q.index {
            r = r
                .query("index", index.to_string())
                .query("wait", wait_param(q.effective_wait()))
                .hold(q.server_hold());
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
        index_header(req, resp, INDEX_HEADER)?,
        v.unwrap_or_default(),
    ))
}

/// Decoder of [`health_service`].
pub fn decode_health(req: &Request, resp: &Response) -> BackendResult<Indexed<Vec<ServiceEntry>>> {
    let v: Option<Vec<ServiceEntry>> = decode_json(req, resp)?;
    Ok(Indexed::new(
        index_header(req, resp, INDEX_HEADER)?,
        v.unwrap_or_default(),
    ))
}

/// Decoder of [`kv_get`]: 404 is an absent key (the index header is still required).
pub fn decode_kv_get(req: &Request, resp: &Response) -> BackendResult<Indexed<Option<KvPair>>> {
    if resp.status == 404 {
        return Ok(Indexed::new(index_header(req, resp, INDEX_HEADER)?, None));
    }
    let v: Vec<KvPair> = decode_json(req, resp)?;
    let index = index_header(req, resp, INDEX_HEADER)?;
    Ok(Indexed::new(index, v.into_iter().next()))
}

/// Decoder of [`kv_list`]: 404 is an empty prefix.
pub fn decode_kv_list(req: &Request, resp: &Response) -> BackendResult<Indexed<Vec<KvPair>>> {
    if resp.status == 404 {
        return Ok(Indexed::new(
            index_header(req, resp, INDEX_HEADER)?,
            Vec::new(),
        ));
    }
    let v: Vec<KvPair> = decode_json(req, resp)?;
    let index = index_header(req, resp, INDEX_HEADER)?;
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
