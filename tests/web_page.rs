//! The browser page on the gRPC port: `GET /` and its assets over HTTP/1.1
//! (content types, caching, ETags, gzip, a strict CSP), gRPC-Web calls on the
//! same port (unary and server-streaming, with and without tokens), GetAccess
//! for each role, and `--cors-origin` (preflight answered for the named
//! origin only). HTTP/2 gRPC on the same port is what every other test uses.
//! The page itself is tested in Chromium by `web/tests` (`.ci/run`).

mod common;

use common::{TestServer, new_log, report, test_options};
use diagd::{
    api::pb::{self, ErrorType, Severity},
    server::auth::Tokens,
};
use prost::Message;

/// An HTTP/1.1-only client that never decompresses (to see what was sent).
fn http1() -> reqwest::Client {
    reqwest::Client::builder()
        .http1_only()
        .build()
        .expect("HTTP client")
}

/// A gRPC-Web request body: one uncompressed data frame holding `message`.
fn grpc_web_frame(message: &impl Message) -> Vec<u8> {
    let payload = message.encode_to_vec();
    let mut body = vec![0u8];
    body.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    body.extend_from_slice(&payload);
    body
}

/// A gRPC-Web answer: its data frames and its trailers (from the trailer
/// frame, or from the headers of a trailers-only answer).
struct WebAnswer {
    messages: Vec<Vec<u8>>,
    trailers: Vec<(String, String)>,
}

impl WebAnswer {
    fn trailer(&self, name: &str) -> Option<&str> {
        self.trailers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Calls `method` over gRPC-Web (HTTP/1.1), as a browser does.
async fn grpc_web(
    server: &TestServer,
    method: &str,
    request: &impl Message,
    token: Option<&str>,
) -> WebAnswer {
    let mut call = http1()
        .post(format!(
            "http://{}/diagnostics.v1.DiagnosticsService/{method}",
            server.addr
        ))
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .body(grpc_web_frame(request));
    if let Some(token) = token {
        call = call.header("authorization", format!("Bearer {token}"));
    }
    let response = call.send().await.expect("gRPC-Web call");
    assert_eq!(response.status(), 200, "gRPC-Web answers HTTP 200");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/grpc-web"),
        "{:?}",
        response.headers()
    );
    let mut trailers: Vec<(String, String)> = response
        .headers()
        .iter()
        .filter(|(n, _)| n.as_str().starts_with("grpc-"))
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let body = response.bytes().await.expect("body");
    let mut messages = Vec::new();
    let mut rest = &body[..];
    while rest.len() >= 5 {
        let flags = rest[0];
        let len = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
        let frame = &rest[5..5 + len];
        if flags & 0x80 != 0 {
            for line in String::from_utf8_lossy(frame).split("\r\n") {
                if let Some((name, value)) = line.split_once(':') {
                    trailers.push((name.trim().to_lowercase(), value.trim().to_string()));
                }
            }
        } else {
            messages.push(frame.to_vec());
        }
        rest = &rest[5 + len..];
    }
    assert!(rest.is_empty(), "the body is whole frames");
    WebAnswer { messages, trailers }
}

#[tokio::test]
async fn the_page_and_its_assets_are_served_over_http1_with_caching_and_a_strict_csp() {
    let server = TestServer::start_with(test_options()).await;
    let base = format!("http://{}", server.addr);
    let client = http1();

    let page = client.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.version(), reqwest::Version::HTTP_11);
    let headers = page.headers().clone();
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(headers["cache-control"], "no-cache");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let csp = headers["content-security-policy"].to_str().unwrap();
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{csp}");
    }
    let html = page.text().await.unwrap();
    assert!(html.contains("<div id=\"app\">"), "{html}");

    // The script the page loads: JavaScript, cached for good (named by content).
    let script = html
        .split("src=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("index.html loads a script");
    assert!(script.starts_with("/assets/"), "{script}");
    let asset = client.get(format!("{base}{script}")).send().await.unwrap();
    assert_eq!(asset.status(), 200);
    assert!(
        asset.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
    assert!(
        asset.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let etag = asset.headers()["etag"].clone();
    let plain_length = asset.bytes().await.unwrap().len();
    assert!(plain_length > 1000);

    // Revalidation: the same ETag answers 304 without a body.
    let again = client
        .get(format!("{base}{script}"))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);

    // gzip when the browser takes it.
    let zipped = client
        .get(format!("{base}{script}"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    let zipped_length = zipped.bytes().await.unwrap().len();
    assert!(
        zipped_length * 2 < plain_length,
        "gzip: {zipped_length} of {plain_length} bytes"
    );

    let missing = client
        .get(format!("{base}/assets/nope.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn grpc_web_unary_and_server_streaming_calls_work_on_the_same_port() {
    let server = TestServer::start_with(test_options()).await;
    let mut client = server.client().await;
    let id = report(
        &mut client,
        new_log(
            "CUDA out of memory. Tried to allocate 2.00 GiB",
            Severity::High,
            ErrorType::Oom,
        ),
    )
    .await;

    // Unary: GetLog answers the log reported over HTTP/2 gRPC.
    let answer = grpc_web(
        &server,
        "GetLog",
        &pb::GetLogRequest { id: id.clone() },
        None,
    )
    .await;
    assert_eq!(answer.trailer("grpc-status"), Some("0"));
    assert_eq!(answer.messages.len(), 1);
    let log = pb::GetLogResponse::decode(&answer.messages[0][..])
        .unwrap()
        .log
        .unwrap();
    assert_eq!(log.id, id);
    assert_eq!(
        log.message,
        "CUDA out of memory. Tried to allocate 2.00 GiB"
    );

    // Server streaming: SearchLogs' hit, then its summary, then the status.
    let answer = grpc_web(
        &server,
        "SearchLogs",
        &pb::SearchLogsRequest {
            query: "CUDA".into(),
            ..Default::default()
        },
        None,
    )
    .await;
    assert_eq!(answer.trailer("grpc-status"), Some("0"));
    assert_eq!(answer.messages.len(), 2, "a hit and the summary");
    match pb::SearchLogsResponse::decode(&answer.messages[0][..])
        .unwrap()
        .result
    {
        Some(pb::search_logs_response::Result::Hit(hit)) => {
            assert_eq!(hit.log.unwrap().id, id);
            assert!(!hit.matches.is_empty());
        }
        other => panic!("expected a hit: {other:?}"),
    }

    // Errors keep their code, message and details.
    let answer = grpc_web(
        &server,
        "GetLog",
        &pb::GetLogRequest { id: "nope".into() },
        None,
    )
    .await;
    assert_eq!(answer.trailer("grpc-status"), Some("3"));
    assert!(
        answer.trailer("grpc-message").unwrap_or("").contains("id"),
        "{:?}",
        answer.trailers
    );
    assert!(answer.trailer("grpc-status-details-bin").is_some());

    // Without tokens, GetAccess says access control is off and allows all.
    let answer = grpc_web(&server, "GetAccess", &pb::GetAccessRequest {}, None).await;
    let access = pb::GetAccessResponse::decode(&answer.messages[0][..]).unwrap();
    assert!(!access.access_control);
    assert_eq!(access.role(), pb::Role::Unspecified);
    for method in ["ClearLogs", "SetDebugMode", "ListLogs", "GetAccess"] {
        assert!(
            access.allowed_methods.iter().any(|m| m == method),
            "{method}"
        );
    }
    assert_eq!(access.server_version, env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn grpc_web_calls_need_the_same_tokens_and_get_access_names_the_role() {
    let mut options = test_options();
    options.tokens = Tokens::new(&[], &["read-secret".into()], &["admin-secret".into()]);
    let server = TestServer::start_with(options).await;

    // The page itself needs no token (it asks for one).
    let page = http1()
        .get(format!("http://{}/", server.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);

    let answer = grpc_web(&server, "GetAccess", &pb::GetAccessRequest {}, None).await;
    assert_eq!(answer.trailer("grpc-status"), Some("16"), "UNAUTHENTICATED");
    assert!(answer.messages.is_empty());

    let answer = grpc_web(
        &server,
        "GetAccess",
        &pb::GetAccessRequest {},
        Some("read-secret"),
    )
    .await;
    let access = pb::GetAccessResponse::decode(&answer.messages[0][..]).unwrap();
    assert!(access.access_control);
    assert_eq!(access.role(), pb::Role::Read);
    assert!(access.allowed_methods.iter().any(|m| m == "ListLogs"));
    assert!(!access.allowed_methods.iter().any(|m| m == "ClearLogs"));

    let answer = grpc_web(
        &server,
        "ClearLogs",
        &pb::ClearLogsRequest::default(),
        Some("read-secret"),
    )
    .await;
    assert_eq!(
        answer.trailer("grpc-status"),
        Some("7"),
        "PERMISSION_DENIED"
    );
}

#[tokio::test]
async fn cors_answers_preflights_only_for_the_configured_origin() {
    let path = "/diagnostics.v1.DiagnosticsService/GetAccess";
    let preflight = |server: &TestServer, origin: &'static str| {
        http1()
            .request(
                reqwest::Method::OPTIONS,
                format!("http://{}{path}", server.addr),
            )
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type,x-grpc-web,x-user-agent",
            )
            .send()
    };

    let mut options = test_options();
    options.cors_origins = vec!["http://app.example:8080".into()];
    options.tokens = Tokens::new(&[], &[], &["admin-secret".into()]);
    let server = TestServer::start_with(options).await;

    let allowed = preflight(&server, "http://app.example:8080").await.unwrap();
    assert!(allowed.status().is_success(), "{}", allowed.status());
    let headers = allowed.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "http://app.example:8080"
    );
    let allow_headers = headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    for header in ["authorization", "content-type", "x-grpc-web"] {
        assert!(allow_headers.contains(header), "{allow_headers}");
    }

    let refused = preflight(&server, "http://evil.example").await.unwrap();
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );

    // A cross-origin call from the allowed origin can read the status.
    let call = http1()
        .post(format!("http://{}{path}", server.addr))
        .header("origin", "http://app.example:8080")
        .header("content-type", "application/grpc-web+proto")
        .header("authorization", "Bearer admin-secret")
        .body(grpc_web_frame(&pb::GetAccessRequest {}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        call.headers()["access-control-allow-origin"],
        "http://app.example:8080"
    );
    assert!(
        call.headers()["access-control-expose-headers"]
            .to_str()
            .unwrap()
            .contains("grpc-status")
    );

    // The page may be embedded by that origin only.
    let page = http1()
        .get(format!("http://{}/", server.addr))
        .send()
        .await
        .unwrap();
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("frame-ancestors http://app.example:8080"),
        "{csp}"
    );

    // Off by default: no CORS headers at all.
    let server = TestServer::start_with(test_options()).await;
    let response = preflight(&server, "http://app.example:8080").await.unwrap();
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn without_tokens_browsers_must_name_diagd_by_address_or_localhost() {
    // DNS rebinding: a site whose name is re-pointed at 127.0.0.1 must not
    // become "same origin" with a diagd that has no tokens.
    let server = TestServer::start_with(test_options()).await;
    let get = |host: &'static str| {
        http1()
            .get(format!("http://{}/", server.addr))
            .header("host", host)
            .send()
    };
    let refused = get("evil.example:50051").await.unwrap();
    assert_eq!(refused.status(), 403);
    assert!(
        refused.headers()["x-diagd-refused"]
            .to_str()
            .unwrap()
            .contains("DNS rebinding")
    );
    for host in ["127.0.0.1:50051", "localhost:50051", "[::1]:50051"] {
        assert_eq!(get(host).await.unwrap().status(), 200, "{host}");
    }
    // gRPC-Web too; HTTP/2 gRPC (not a browser) is unaffected.
    let call = http1()
        .post(format!(
            "http://{}/diagnostics.v1.DiagnosticsService/GetAccess",
            server.addr
        ))
        .header("host", "evil.example")
        .header("content-type", "application/grpc-web+proto")
        .body(grpc_web_frame(&pb::GetAccessRequest {}))
        .send()
        .await
        .unwrap();
    assert_eq!(call.status(), 403);
    let mut client = server.client().await;
    assert!(client.get_access(pb::GetAccessRequest {}).await.is_ok());

    // With tokens the token protects it: any host name is served.
    let mut options = test_options();
    options.tokens = Tokens::new(&[], &["read-secret".into()], &[]);
    let server = TestServer::start_with(options).await;
    let page = http1()
        .get(format!("http://{}/", server.addr))
        .header("host", "diagd.internal:50051")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
}
