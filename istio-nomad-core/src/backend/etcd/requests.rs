//! etcd v3 JSON-gateway requests built as data, and answers decoded, without I/O.
//!
//! Keys and values are base64 on the wire; 64-bit integers are sent and read as decimal
//! strings (numbers are accepted too); fields left at their default are omitted by the
//! server and read as defaults here.

use base64::Engine as _;
use serde_json::{json, Map, Value};

use super::types::{
    Compare, CompareResult, CompareTarget, DeleteRangeRequest, DeleteRangeResponse, KeyValue,
    LeaseGrantResponse, LeaseKeepAliveResponse, Member, MemberListResponse, PutRequest,
    PutResponse, RangeRequest, RangeResponse, ResponseHeader, StatusResponse, TxnOp, TxnOpResponse,
    TxnRequest, TxnResponse,
};
use crate::backend::request::{check_status, Method, Request, Response};
use crate::backend::{BackendError, BackendResult, Secret, Service};

/// The header carrying the auth token (the bare token, no `Bearer`).
pub const TOKEN_HEADER: &str = "Authorization";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn post(path: &str, body: Value, token: Option<&Secret>, idempotent: bool) -> Request {
    Request::new(Service::Etcd, Method::Post, path)
        .json(body)
        .secret_header(TOKEN_HEADER, token)
        .idempotent(idempotent)
}

fn check_key(key: &[u8]) -> BackendResult<()> {
    if key.is_empty() {
        return Err(BackendError::InvalidRequest {
            service: Service::Etcd,
            field: "key".into(),
            message: "the key must not be empty".into(),
        });
    }
    Ok(())
}

fn range_json(r: &RangeRequest) -> Value {
    let mut m = Map::new();
    m.insert("key".into(), json!(b64(&r.key)));
    if !r.range_end.is_empty() {
        m.insert("range_end".into(), json!(b64(&r.range_end)));
    }
    if r.limit != 0 {
        m.insert("limit".into(), json!(r.limit.to_string()));
    }
    if r.revision != 0 {
        m.insert("revision".into(), json!(r.revision.to_string()));
    }
    if r.keys_only {
        m.insert("keys_only".into(), json!(true));
    }
    if r.count_only {
        m.insert("count_only".into(), json!(true));
    }
    if r.serializable {
        m.insert("serializable".into(), json!(true));
    }
    Value::Object(m)
}

fn put_json(r: &PutRequest) -> Value {
    let mut m = Map::new();
    m.insert("key".into(), json!(b64(&r.key)));
    m.insert("value".into(), json!(b64(&r.value)));
    if r.lease != 0 {
        m.insert("lease".into(), json!(r.lease.to_string()));
    }
    if r.prev_kv {
        m.insert("prev_kv".into(), json!(true));
    }
    Value::Object(m)
}

fn delete_json(r: &DeleteRangeRequest) -> Value {
    let mut m = Map::new();
    m.insert("key".into(), json!(b64(&r.key)));
    if !r.range_end.is_empty() {
        m.insert("range_end".into(), json!(b64(&r.range_end)));
    }
    if r.prev_kv {
        m.insert("prev_kv".into(), json!(true));
    }
    Value::Object(m)
}

fn compare_json(c: &Compare) -> Value {
    let result = match c.result {
        CompareResult::Equal => "EQUAL",
        CompareResult::Greater => "GREATER",
        CompareResult::Less => "LESS",
        CompareResult::NotEqual => "NOT_EQUAL",
    };
    let (target, field, value) = match &c.target {
        CompareTarget::Version(v) => ("VERSION", "version", json!(v.to_string())),
        CompareTarget::CreateRevision(v) => ("CREATE", "create_revision", json!(v.to_string())),
        CompareTarget::ModRevision(v) => ("MOD", "mod_revision", json!(v.to_string())),
        CompareTarget::Value(v) => ("VALUE", "value", json!(b64(v))),
        CompareTarget::Lease(v) => ("LEASE", "lease", json!(v.to_string())),
    };
    json!({"key": b64(&c.key), "result": result, "target": target, field: value})
}

fn op_json(op: &TxnOp) -> Value {
    match op {
        TxnOp::Range(r) => json!({"request_range": range_json(r)}),
        TxnOp::Put(r) => json!({"request_put": put_json(r)}),
        TxnOp::DeleteRange(r) => json!({"request_delete_range": delete_json(r)}),
    }
}

/// `/v3/kv/range`. A read: may be retried.
pub fn range(r: &RangeRequest, token: Option<&Secret>) -> BackendResult<Request> {
    check_key(&r.key)?;
    Ok(post("/v3/kv/range", range_json(r), token, true))
}

/// `/v3/kv/put`. Not retried after it may have been received.
pub fn put(r: &PutRequest, token: Option<&Secret>) -> BackendResult<Request> {
    check_key(&r.key)?;
    Ok(post("/v3/kv/put", put_json(r), token, false))
}

/// `/v3/kv/deleterange`. Not retried after it may have been received.
pub fn delete_range(r: &DeleteRangeRequest, token: Option<&Secret>) -> BackendResult<Request> {
    check_key(&r.key)?;
    Ok(post("/v3/kv/deleterange", delete_json(r), token, false))
}

/// `/v3/kv/txn`. Retried only when it has no writes.
pub fn txn(t: &TxnRequest, token: Option<&Secret>) -> BackendResult<Request> {
    for c in &t.compare {
        check_key(&c.key)?;
    }
    let read_only = t
        .success
        .iter()
        .chain(&t.failure)
        .all(|op| matches!(op, TxnOp::Range(_)));
    let body = json!({
        "compare": t.compare.iter().map(compare_json).collect::<Vec<_>>(),
        "success": t.success.iter().map(op_json).collect::<Vec<_>>(),
        "failure": t.failure.iter().map(op_json).collect::<Vec<_>>(),
    });
    Ok(post("/v3/kv/txn", body, token, read_only))
}

/// `/v3/lease/grant` with `ID` 0 (the server picks it). Not retried.
pub fn lease_grant(ttl: i64, token: Option<&Secret>) -> BackendResult<Request> {
    if ttl <= 0 {
        return Err(BackendError::InvalidRequest {
            service: Service::Etcd,
            field: "TTL".into(),
            message: format!("must be positive, got {ttl}"),
        });
    }
    Ok(post(
        "/v3/lease/grant",
        json!({"TTL": ttl.to_string(), "ID": "0"}),
        token,
        false,
    ))
}

/// `/v3/lease/keepalive`. Renewing twice is harmless: may be retried.
pub fn lease_keepalive(id: i64, token: Option<&Secret>) -> Request {
    post(
        "/v3/lease/keepalive",
        json!({"ID": id.to_string()}),
        token,
        true,
    )
}

/// `/v3/lease/revoke`. Not retried (a second revoke reports the lease missing).
pub fn lease_revoke(id: i64, token: Option<&Secret>) -> Request {
    post(
        "/v3/lease/revoke",
        json!({"ID": id.to_string()}),
        token,
        false,
    )
}

/// `/v3/cluster/member/list`. May be retried.
pub fn member_list(token: Option<&Secret>) -> Request {
    post("/v3/cluster/member/list", json!({}), token, true)
}

/// `GET /health`: `{"health":"true"}` when the member has a leader and no alarm
/// (etcd-io/etcd v3.4 `etcdserver/api/etcdhttp/metrics.go` `checkHealth`). May be retried.
pub fn health() -> Request {
    Request::new(Service::Etcd, Method::Get, "/health").idempotent(true)
}

/// `/v3/maintenance/status`. May be retried.
pub fn status(token: Option<&Secret>) -> Request {
    post("/v3/maintenance/status", json!({}), token, true)
}

/// `/v3/auth/authenticate`. The password is part of the body: the request is never logged.
pub fn authenticate(name: &str, password: &Secret) -> Request {
    let body = json!({"name": name, "password": password.expose()}).to_string();
    Request::new(Service::Etcd, Method::Post, "/v3/auth/authenticate")
        .idempotent(true)
        .body_secret(Secret::new(body))
}

// ---- decoding ----

fn decode_err(req: &Request, message: impl Into<String>) -> BackendError {
    BackendError::Decode {
        service: Service::Etcd,
        path: req.path.clone(),
        message: message.into(),
    }
}

/// Reads an int64 sent as a string (or a number); absent is 0.
fn int(v: &Value, keys: &[&str]) -> Result<i64, String> {
    for k in keys {
        match v.get(*k) {
            None | Some(Value::Null) => continue,
            Some(Value::String(s)) => {
                return s
                    .parse::<i64>()
                    .map_err(|_| format!("{k}: {s:?} is not an integer"))
            }
            Some(Value::Number(n)) => {
                return n
                    .as_i64()
                    .ok_or_else(|| format!("{k}: {n} is not an integer"))
            }
            Some(other) => return Err(format!("{k}: {other} is not an integer")),
        }
    }
    Ok(0)
}

fn uint(v: &Value, keys: &[&str]) -> Result<u64, String> {
    for k in keys {
        match v.get(*k) {
            None | Some(Value::Null) => continue,
            Some(Value::String(s)) => {
                return s
                    .parse::<u64>()
                    .map_err(|_| format!("{k}: {s:?} is not an integer"))
            }
            Some(Value::Number(n)) => {
                return n
                    .as_u64()
                    .ok_or_else(|| format!("{k}: {n} is not an integer"))
            }
            Some(other) => return Err(format!("{k}: {other} is not an integer")),
        }
    }
    Ok(0)
}

fn bytes(v: &Value, key: &str) -> Result<Vec<u8>, String> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(|e| format!("{key}: not base64: {e}")),
        Some(other) => Err(format!("{key}: {other} is not a base64 string")),
    }
}

fn boolean(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn header(v: &Value) -> Result<ResponseHeader, String> {
    let h = v.get("header").cloned().unwrap_or(Value::Null);
    Ok(ResponseHeader {
        cluster_id: uint(&h, &["cluster_id", "clusterId"])?,
        member_id: uint(&h, &["member_id", "memberId"])?,
        revision: int(&h, &["revision"])?,
        raft_term: uint(&h, &["raft_term", "raftTerm"])?,
    })
}

fn kv(v: &Value) -> Result<KeyValue, String> {
    Ok(KeyValue {
        key: bytes(v, "key")?,
        value: bytes(v, "value")?,
        create_revision: int(v, &["create_revision", "createRevision"])?,
        mod_revision: int(v, &["mod_revision", "modRevision"])?,
        version: int(v, &["version"])?,
        lease: int(v, &["lease"])?,
    })
}

fn kvs(v: &Value, key: &str) -> Result<Vec<KeyValue>, String> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items.iter().map(kv).collect(),
        Some(other) => Err(format!("{key}: {other} is not a list")),
    }
}

fn range_resp(v: &Value) -> Result<RangeResponse, String> {
    Ok(RangeResponse {
        header: header(v)?,
        kvs: kvs(v, "kvs")?,
        more: boolean(v, "more"),
        count: int(v, &["count"])?,
    })
}

fn put_resp(v: &Value) -> Result<PutResponse, String> {
    let prev = match v.get("prev_kv").or_else(|| v.get("prevKv")) {
        None | Some(Value::Null) => None,
        Some(p) => Some(kv(p)?),
    };
    Ok(PutResponse {
        header: header(v)?,
        prev_kv: prev,
    })
}

fn delete_resp(v: &Value) -> Result<DeleteRangeResponse, String> {
    let mut prev = kvs(v, "prev_kvs")?;
    if prev.is_empty() {
        prev = kvs(v, "prevKvs")?;
    }
    Ok(DeleteRangeResponse {
        header: header(v)?,
        deleted: int(v, &["deleted"])?,
        prev_kvs: prev,
    })
}

/// Parses a 2xx JSON body; any other status is the typed error (JSON `message` kept).
fn body(req: &Request, resp: &Response) -> BackendResult<Value> {
    check_status(req, resp)?;
    serde_json::from_slice(&resp.body).map_err(|e| decode_err(req, e.to_string()))
}

/// Decoder of [`range`].
pub fn decode_range(req: &Request, resp: &Response) -> BackendResult<RangeResponse> {
    range_resp(&body(req, resp)?).map_err(|m| decode_err(req, m))
}

/// Decoder of [`put`].
pub fn decode_put(req: &Request, resp: &Response) -> BackendResult<PutResponse> {
    put_resp(&body(req, resp)?).map_err(|m| decode_err(req, m))
}

/// Decoder of [`delete_range`].
pub fn decode_delete_range(req: &Request, resp: &Response) -> BackendResult<DeleteRangeResponse> {
    delete_resp(&body(req, resp)?).map_err(|m| decode_err(req, m))
}

/// Decoder of [`txn`].
pub fn decode_txn(req: &Request, resp: &Response) -> BackendResult<TxnResponse> {
    let v = body(req, resp)?;
    let parse = || -> Result<TxnResponse, String> {
        let mut responses = Vec::new();
        if let Some(items) = v.get("responses").and_then(Value::as_array) {
            for item in items {
                let op = if let Some(r) = item
                    .get("response_range")
                    .or_else(|| item.get("responseRange"))
                {
                    TxnOpResponse::Range(range_resp(r)?)
                } else if let Some(r) = item.get("response_put").or_else(|| item.get("responsePut"))
                {
                    TxnOpResponse::Put(put_resp(r)?)
                } else if let Some(r) = item
                    .get("response_delete_range")
                    .or_else(|| item.get("responseDeleteRange"))
                {
                    TxnOpResponse::DeleteRange(delete_resp(r)?)
                } else {
                    return Err(format!("unknown transaction response {item}"));
                };
                responses.push(op);
            }
        }
        Ok(TxnResponse {
            header: header(&v)?,
            succeeded: boolean(&v, "succeeded"),
            responses,
        })
    };
    parse().map_err(|m| decode_err(req, m))
}

fn lease_error(req: &Request, v: &Value) -> Option<BackendError> {
    let e = v.get("error")?;
    let message = e
        .as_str()
        .map(str::to_owned)
        .or_else(|| e.get("message").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| e.to_string());
    if message.contains("lease not found") {
        return Some(lease_not_found(req));
    }
    Some(BackendError::Http {
        service: Service::Etcd,
        method: req.method,
        path: req.path.clone(),
        status: 200,
        message,
    })
}

/// The error etcd gives for a lease that does not exist (any more).
pub(crate) fn lease_not_found(req: &Request) -> BackendError {
    BackendError::NotFound {
        service: Service::Etcd,
        method: req.method,
        path: req.path.clone(),
        status: 404,
        message: "etcdserver: requested lease not found".into(),
    }
}

/// Decoder of [`lease_grant`].
pub fn decode_lease_grant(req: &Request, resp: &Response) -> BackendResult<LeaseGrantResponse> {
    let v = body(req, resp)?;
    if let Some(e) = v
        .get("error")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        return Err(BackendError::Http {
            service: Service::Etcd,
            method: req.method,
            path: req.path.clone(),
            status: resp.status,
            message: e.to_owned(),
        });
    }
    let parse = || -> Result<LeaseGrantResponse, String> {
        Ok(LeaseGrantResponse {
            header: header(&v)?,
            id: int(&v, &["ID", "id"])?,
            ttl: int(&v, &["TTL", "ttl"])?,
        })
    };
    parse().map_err(|m| decode_err(req, m))
}

/// Decoder of [`lease_keepalive`]: the gateway streams `{"result": ...}` objects, one per
/// line; the first is the answer. A TTL of 0 or less means the lease is gone
/// ([`BackendError::NotFound`]).
pub fn decode_lease_keepalive(
    req: &Request,
    resp: &Response,
) -> BackendResult<LeaseKeepAliveResponse> {
    check_status(req, resp)?;
    let text = resp.text();
    let first = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    let v: Value = serde_json::from_str(first).map_err(|e| decode_err(req, e.to_string()))?;
    if let Some(e) = lease_error(req, &v) {
        return Err(e);
    }
    let r = v.get("result").cloned().unwrap_or(v);
    let parse = || -> Result<LeaseKeepAliveResponse, String> {
        Ok(LeaseKeepAliveResponse {
            header: header(&r)?,
            id: int(&r, &["ID", "id"])?,
            ttl: int(&r, &["TTL", "ttl"])?,
        })
    };
    let out = parse().map_err(|m| decode_err(req, m))?;
    if out.ttl <= 0 {
        return Err(lease_not_found(req));
    }
    Ok(out)
}

/// Decoder of [`member_list`].
pub fn decode_member_list(req: &Request, resp: &Response) -> BackendResult<MemberListResponse> {
    let v = body(req, resp)?;
    let strings = |m: &Value, keys: &[&str]| -> Vec<String> {
        keys.iter()
            .find_map(|k| m.get(*k).and_then(Value::as_array))
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let parse = || -> Result<MemberListResponse, String> {
        let mut members = Vec::new();
        for m in v
            .get("members")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            members.push(Member {
                id: uint(m, &["ID", "id"])?,
                name: m
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                peer_urls: strings(m, &["peerURLs", "peer_urls", "peerUrls"]),
                client_urls: strings(m, &["clientURLs", "client_urls", "clientUrls"]),
                is_learner: boolean(m, "isLearner") || boolean(m, "is_learner"),
            });
        }
        Ok(MemberListResponse {
            header: header(&v)?,
            members,
        })
    };
    parse().map_err(|m| decode_err(req, m))
}

/// Decoder of [`health`]: `true` for `{"health":"true"}` (HTTP 200), `false` for
/// `{"health":"false"}` (HTTP 503); other answers are errors.
pub fn decode_health(req: &Request, resp: &Response) -> BackendResult<bool> {
    if resp.status != 200 && resp.status != 503 {
        check_status(req, resp)?;
    }
    let v: Value =
        serde_json::from_slice(&resp.body).map_err(|e| decode_err(req, e.to_string()))?;
    match v.get("health").and_then(Value::as_str) {
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        _ => Err(decode_err(req, format!("no health field in {v}"))),
    }
}

/// Decoder of [`lease_revoke`].
pub fn decode_lease_revoke(req: &Request, resp: &Response) -> BackendResult<ResponseHeader> {
    header(&body(req, resp)?).map_err(|m| decode_err(req, m))
}

/// Decoder of [`status`].
pub fn decode_status(req: &Request, resp: &Response) -> BackendResult<StatusResponse> {
    let v = body(req, resp)?;
    let parse = || -> Result<StatusResponse, String> {
        Ok(StatusResponse {
            header: header(&v)?,
            version: v
                .get("version")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            db_size: int(&v, &["dbSize", "db_size"])?,
            leader: uint(&v, &["leader"])?,
            raft_index: uint(&v, &["raftIndex", "raft_index"])?,
            raft_term: uint(&v, &["raftTerm", "raft_term"])?,
        })
    };
    parse().map_err(|m| decode_err(req, m))
}

/// Decoder of [`authenticate`]: the token.
pub fn decode_authenticate(req: &Request, resp: &Response) -> BackendResult<Secret> {
    let v = body(req, resp)?;
    match v.get("token").and_then(Value::as_str) {
        Some(t) if !t.is_empty() => Ok(Secret::new(t)),
        _ => Err(decode_err(req, "the answer has no token")),
    }
}

/// True when the answer says the auth token is invalid or outdated (re-authenticate once).
pub fn is_auth_error(e: &BackendError) -> bool {
    match e {
        BackendError::Http {
            status, message, ..
        } => {
            *status == 401
                || message.contains("invalid auth token")
                || message.contains("auth store is old")
                || message.contains("user name is empty")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::backend::request::Body;

    #[test]
    fn prefix_range_as_data() {
        let r = range(&RangeRequest::prefix("foo"), None).unwrap();
        assert_eq!(r.path, "/v3/kv/range");
        assert_eq!(
            r.body,
            Body::Json(json!({"key": "Zm9v", "range_end": "Zm9w"}))
        );
        assert!(r.idempotent);
        assert!(r.headers.is_empty());
    }

    #[test]
    fn cas_txn_as_data() {
        let t = TxnRequest::new()
            .when(Compare::mod_revision("k", 7))
            .and_then(TxnOp::Put(PutRequest::new("k", "v").lease(42)))
            .or_else(TxnOp::Range(RangeRequest::key("k")));
        let r = txn(&t, Some(&Secret::new("tok"))).unwrap();
        assert_eq!(
            r.body,
            Body::Json(json!({
                "compare": [{"key": "aw==", "result": "EQUAL", "target": "MOD", "mod_revision": "7"}],
                "success": [{"request_put": {"key": "aw==", "value": "dg==", "lease": "42"}}],
                "failure": [{"request_range": {"key": "aw=="}}],
            }))
        );
        assert!(!r.idempotent);
        assert_eq!(
            r.header_value("authorization").map(|h| h.expose()),
            Some("tok")
        );
        assert!(!format!("{r:?}").contains("tok\""));
    }

    #[test]
    fn decode_omitted_defaults_and_strings() {
        let req = range(&RangeRequest::key("k"), None).unwrap();
        let resp = Response::new(
            200,
            r#"{"header":{"cluster_id":"14841639068965178418","member_id":"10276657743932975437","revision":"5","raft_term":"2"}}"#,
        );
        let got = decode_range(&req, &resp).unwrap();
        assert_eq!(got.header.revision, 5);
        assert_eq!(got.header.cluster_id, 14841639068965178418);
        assert!(got.kvs.is_empty());
        assert_eq!(got.count, 0);
        let resp = Response::new(
            200,
            r#"{"header":{"revision":"9"},"kvs":[{"key":"aw==","create_revision":"2","mod_revision":"9","version":"3","value":"dg=="}],"count":"1"}"#,
        );
        let got = decode_range(&req, &resp).unwrap();
        assert_eq!(
            got.kvs,
            vec![KeyValue {
                key: b"k".to_vec(),
                value: b"v".to_vec(),
                create_revision: 2,
                mod_revision: 9,
                version: 3,
                lease: 0
            }]
        );
    }

    #[test]
    fn keepalive_of_gone_lease_is_not_found() {
        let req = lease_keepalive(5, None);
        let resp = Response::new(
            200,
            "{\"result\":{\"header\":{\"revision\":\"3\"},\"ID\":\"5\"}}\n",
        );
        assert!(decode_lease_keepalive(&req, &resp)
            .unwrap_err()
            .is_not_found());
        let resp = Response::new(
            200,
            "{\"result\":{\"header\":{\"revision\":\"3\"},\"ID\":\"5\",\"TTL\":\"9\"}}\n",
        );
        assert_eq!(decode_lease_keepalive(&req, &resp).unwrap().ttl, 9);
    }

    #[test]
    fn authenticate_body_is_never_printed() {
        let r = authenticate("root", &Secret::new("pa55word"));
        assert_eq!(r.path, "/v3/auth/authenticate");
        match &r.body {
            Body::SecretJson(s) => {
                assert_eq!(s.expose(), r#"{"name":"root","password":"pa55word"}"#)
            }
            other => panic!("{other:?}"),
        }
        assert!(!format!("{r:?}").contains("pa55word"));
    }

    #[test]
    fn bad_input_refused() {
        assert_eq!(
            lease_grant(0, None).unwrap_err().to_string(),
            "etcd: invalid request: TTL: must be positive, got 0"
        );
        assert_eq!(
            put(&PutRequest::new("", "v"), None)
                .unwrap_err()
                .to_string(),
            "etcd: invalid request: key: the key must not be empty"
        );
    }

    #[test]
    fn prefix_end_rules() {
        use super::super::types::prefix_end;
        assert_eq!(prefix_end(b"foo"), b"fop");
        assert_eq!(prefix_end(b"a\xff"), b"b");
        assert_eq!(prefix_end(b"\xff\xff"), vec![0]);
    }
}
