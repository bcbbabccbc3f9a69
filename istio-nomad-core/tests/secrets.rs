//! A token set in the (simulated) environment never shows in `Debug` output, error
//! messages or logs, even when the server echoes it back.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::{fast_options, web_job};
use istio_nomad_core::backend::nomad::RegisterRequest;
use istio_nomad_core::backend::{
    Consul, ConsulConfig, HttpConsul, HttpNomad, Nomad, NomadConfig, QueryOptions,
};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const NOMAD_TOKEN: &str = "9c1f3d2e-nomad-acl-secret-7f5a";
const CONSUL_TOKEN: &str = "4b8e0a61-consul-acl-secret-11d2";

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Buf {
    type Writer = Buf;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test(flavor = "current_thread")]
async fn tokens_never_leak() {
    let logs = Buf::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(logs.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = MockServer::start().await;
    // The server checks the token arrived in the header, then refuses and echoes it.
    Mock::given(method("POST"))
        .and(path("/v1/jobs"))
        .and(header("X-Nomad-Token", NOMAD_TOKEN))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_string(format!("Permission denied for token {NOMAD_TOKEN}")),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/job/web"))
        .and(header("X-Nomad-Token", NOMAD_TOKEN))
        .respond_with(
            ResponseTemplate::new(500)
                .set_body_string(format!("token {NOMAD_TOKEN} lookup failed")),
        )
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/kv/state"))
        .and(header("X-Consul-Token", CONSUL_TOKEN))
        .respond_with(
            ResponseTemplate::new(403).set_body_string(format!("ACL not found: {CONSUL_TOKEN}")),
        )
        .expect(1)
        .mount(&server)
        .await;

    let uri = server.uri();
    let env = move |k: &str| match k {
        "NOMAD_ADDR" | "CONSUL_HTTP_ADDR" => Some(uri.clone()),
        "NOMAD_TOKEN" => Some(NOMAD_TOKEN.to_owned()),
        "CONSUL_HTTP_TOKEN" => Some(CONSUL_TOKEN.to_owned()),
        _ => None,
    };
    let mut ncfg = NomadConfig::from_env_with(&env).unwrap();
    ncfg.options = fast_options(2);
    let mut ccfg = ConsulConfig::from_env_with(&env).unwrap();
    ccfg.options = fast_options(2);
    let nomad = HttpNomad::new(&ncfg).unwrap();
    let consul = HttpConsul::new(&ccfg).unwrap();

    let e1 = nomad
        .register_job(&RegisterRequest::new(web_job("nginx", 1)))
        .await
        .unwrap_err();
    assert_eq!(e1.status(), Some(403));
    assert_eq!(
        e1.to_string(),
        "nomad POST /v1/jobs: HTTP 403: Permission denied for token [redacted]"
    );
    let e2 = nomad
        .read_job("web", &QueryOptions::new())
        .await
        .unwrap_err();
    assert_eq!(e2.status(), Some(500));
    let e3 = consul
        .kv_get("state", &QueryOptions::new())
        .await
        .unwrap_err();
    assert_eq!(
        e3.to_string(),
        "consul GET /v1/kv/state: HTTP 403: ACL not found: [redacted]"
    );

    let captured = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        captured.contains("retrying after transient answer"),
        "logs were captured: {captured}"
    );
    let texts = [
        format!("{ncfg:?}"),
        format!("{ccfg:?}"),
        format!("{nomad:?}"),
        format!("{consul:?}"),
        format!("{:?}", nomad.context()),
        format!("{:?}", consul.context()),
        format!("{e1} {e1:?}"),
        format!("{e2} {e2:?}"),
        format!("{e3} {e3:?}"),
        captured,
    ];
    for t in &texts {
        assert!(!t.contains(NOMAD_TOKEN), "Nomad token leaked: {t}");
        assert!(!t.contains(CONSUL_TOKEN), "Consul token leaked: {t}");
    }
}
