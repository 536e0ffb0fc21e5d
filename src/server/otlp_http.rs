//! OTLP/HTTP logs (`POST /v1/logs`) on its own listener
//! (`--otlp-http-listen`, usually port 4318), for the OpenTelemetry SDKs and
//! Collectors that export over HTTP: protobuf (`application/x-protobuf`) or
//! JSON (`application/json`), gzip or not. The request goes to the same
//! export as OTLP/gRPC (`api::otlp`), behind the same tokens (the ingest
//! role, checked before the body is read), connection limits and TLS as
//! the gRPC port. Failures answer the
//! OTLP/HTTP way: a `google.rpc.Status` body in the request's content type,
//! 400 for a request that will never pass, 429/503 with `Retry-After` for
//! one that may later, 401/403 for tokens, 413 over the size limit.

use std::{
    sync::{Arc, atomic::AtomicU64},
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Bytes,
    extract::{DefaultBodyLimit, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
};
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::conn::auto,
    service::TowerToHyperService,
};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use prost::Message;
use tokio::net::TcpListener;
use tokio_stream::StreamExt;
use tokio_util::sync::CancellationToken;
use tonic::Code;
use tonic_types::StatusExt;

use crate::{
    api::{DiagnosticsApi, error::ApiError},
    metrics::METRICS,
    server::{
        auth::{OTLP_LOGS_PATH, Tokens},
        incoming::{self, ConnectionLimits},
        tls::ServerTls,
    },
};

/// The path OTLP/HTTP exporters post logs to.
pub const LOGS_PATH: &str = "/v1/logs";

/// What the handler needs.
#[derive(Clone)]
struct Otlp {
    api: DiagnosticsApi,
    tokens: Tokens,
    max_bytes: usize,
    /// Longest a request may take, its body's upload included
    /// (`--request-timeout-secs`, as on the gRPC port).
    request_timeout: Duration,
}

/// Serves OTLP/HTTP on `listener` until `shutdown` is cancelled.
#[allow(clippy::too_many_arguments)]
pub async fn serve(
    listener: TcpListener,
    api: DiagnosticsApi,
    tokens: Tokens,
    tls: Option<ServerTls>,
    limits: ConnectionLimits,
    max_bytes: usize,
    request_timeout: Duration,
    shutdown: CancellationToken,
) -> Result<(), String> {
    let acceptor = tls
        .as_ref()
        .map(|tls| tls.rustls_acceptor(&[b"http/1.1", b"h2"]))
        .transpose()?;
    let state = Otlp {
        api,
        tokens,
        max_bytes,
        request_timeout,
    };
    let router = Router::new()
        .route(LOGS_PATH, post(export))
        .layer(DefaultBodyLimit::max(max_bytes))
        .layer(tower_http::decompression::RequestDecompressionLayer::new())
        // Outermost: a request without a fitting token is answered before
        // its body is read or decompressed.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            authorize,
        ))
        .with_state(state);
    let connections = incoming::accept(listener, limits, Arc::new(AtomicU64::new(0)));
    tokio::pin!(connections);
    loop {
        let connection = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            next = connections.next() => match next {
                Some(Ok(connection)) => connection,
                Some(Err(_)) => continue,
                None => return Ok(()),
            },
        };
        let service = TowerToHyperService::new(router.clone());
        let acceptor = acceptor.clone();
        let shutdown = shutdown.clone();
        let handshake = limits.handshake_timeout;
        tokio::spawn(async move {
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(30));
            let served = match acceptor {
                Some(acceptor) => {
                    let Ok(Ok(stream)) =
                        tokio::time::timeout(handshake, acceptor.accept(connection)).await
                    else {
                        return;
                    };
                    let connection = builder.serve_connection(TokioIo::new(stream), service);
                    tokio::select! {
                        served = connection => served,
                        () = shutdown.cancelled() => Ok(()),
                    }
                }
                None => {
                    let connection = builder.serve_connection(TokioIo::new(connection), service);
                    tokio::select! {
                        served = connection => served,
                        () = shutdown.cancelled() => Ok(()),
                    }
                }
            };
            if let Err(e) = served {
                tracing::debug!(error = %e, "an OTLP/HTTP connection ended with an error");
            }
        });
    }
}

/// Refuses a request without a token of the ingest (or admin) role before
/// anything else is done with it.
async fn authorize(
    State(otlp): State<Otlp>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let checked = otlp.tokens.check(
        OTLP_LOGS_PATH,
        request
            .headers()
            .get(header::AUTHORIZATION)
            .map(|v| v.as_bytes()),
    );
    match checked {
        // A client that sends its body slowly holds a connection and a
        // buffer: not for longer than the request timeout.
        Ok(_) => match tokio::time::timeout(otlp.request_timeout, next.run(request)).await {
            Ok(response) => response,
            Err(_) => {
                let error = ApiError::Deadline {
                    limit: crate::api::error::Limit {
                        reason: "REQUEST_TIMEOUT",
                        value: otlp.request_timeout.as_secs(),
                        flag: Some("--request-timeout-secs"),
                    },
                    message: format!(
                        "the request took longer than {} s (--request-timeout-secs), its upload \
                         included; retry it (records already stored are not stored twice)",
                        otlp.request_timeout.as_secs()
                    ),
                };
                let (code, response) = failure(Failure::Api(error), Encoding::Protobuf);
                METRICS.request("OtlpExport", code, None);
                response
            }
        },
        Err(error) => {
            let encoding = match request.headers().get(header::CONTENT_TYPE) {
                Some(v) if v.as_bytes().starts_with(b"application/json") => Encoding::Json,
                _ => Encoding::Protobuf,
            };
            let (code, response) = failure(Failure::Api(error), encoding);
            METRICS.request("OtlpExport", code, None);
            response
        }
    }
}

/// How a request's body is encoded (and its answer will be).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

/// `POST /v1/logs`.
async fn export(
    State(otlp): State<Otlp>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let started = Instant::now();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let encoding = if content_type.starts_with("application/json") {
        Encoding::Json
    } else {
        Encoding::Protobuf
    };
    let answered = answer(&otlp, &content_type, encoding, body).await;
    let (code, response) = match answered {
        Ok(response) => (Code::Ok, response),
        Err(error) => failure(error, encoding),
    };
    METRICS.request("OtlpExport", code, Some(started.elapsed()));
    response
}

async fn answer(
    otlp: &Otlp,
    content_type: &str,
    encoding: Encoding,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, Failure> {
    // (The token was checked by `authorize`, before the body was read.)
    if !(content_type.starts_with("application/x-protobuf")
        || content_type.starts_with("application/json"))
    {
        return Err(Failure::Http(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "content type {content_type:?} is not OTLP: send application/x-protobuf or application/json"
            ),
        ));
    }
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Failure::Api(ApiError::LimitExceeded {
                limit: crate::api::error::Limit {
                    reason: "MESSAGE_TOO_LARGE",
                    value: otlp.max_bytes as u64,
                    flag: Some("--max-message-bytes"),
                },
                message: format!(
                    "the request body (after decompression) is over the limit of {} bytes \
                     (--max-message-bytes); send smaller batches",
                    otlp.max_bytes
                ),
                retry: false,
            })
        } else {
            Failure::Api(ApiError::Malformed(format!(
                "the request body could not be read: {}",
                rejection.body_text()
            )))
        }
    })?;
    let request = match encoding {
        Encoding::Protobuf => ExportLogsServiceRequest::decode(body).map_err(|e| {
            Failure::Api(ApiError::Malformed(format!(
                "the body is not an OTLP ExportLogsServiceRequest (protobuf): {e}"
            )))
        })?,
        Encoding::Json => serde_json::from_slice(&body).map_err(|e| {
            Failure::Api(ApiError::Malformed(format!(
                "the body is not an OTLP ExportLogsServiceRequest (JSON): {e}"
            )))
        })?,
    };
    // Its own task: a request that times out (or a client that leaves)
    // mid-write cannot cut a transaction short; it commits or fails alone.
    let api = otlp.api.clone();
    let response = tokio::spawn(async move { api.export_otlp(request).await })
        .await
        .map_err(|e| Failure::Api(ApiError::Internal(format!("the export failed: {e}"))))?
        .map_err(Failure::Api)?;
    let bytes = match encoding {
        Encoding::Protobuf => response.encode_to_vec(),
        Encoding::Json => serde_json::to_vec(&response).unwrap_or_default(),
    };
    Ok(([(header::CONTENT_TYPE, encoding.content_type())], bytes).into_response())
}

/// A failed request, before it is answered.
enum Failure {
    /// A failure shared with gRPC (its status decides the HTTP code).
    Api(ApiError),
    /// A failure only HTTP has.
    Http(StatusCode, String),
}

/// The OTLP/HTTP answer to a failure: its HTTP code, `Retry-After` when
/// the same request may pass later, and a `google.rpc.Status` body.
fn failure(failure: Failure, encoding: Encoding) -> (Code, Response) {
    let status = match failure {
        Failure::Api(error) => tonic::Status::from(error),
        Failure::Http(code, message) => {
            let body =
                serde_json::json!({ "code": Code::InvalidArgument as i32, "message": message });
            let mut response = (code, body.to_string()).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            return (Code::InvalidArgument, response);
        }
    };
    let retry = status.get_details_retry_info().is_some();
    let http = match status.code() {
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
            StatusCode::BAD_REQUEST
        }
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::ResourceExhausted if retry => StatusCode::TOO_MANY_REQUESTS,
        Code::ResourceExhausted => StatusCode::PAYLOAD_TOO_LARGE,
        Code::Unavailable | Code::Aborted => StatusCode::SERVICE_UNAVAILABLE,
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::NotFound => StatusCode::NOT_FOUND,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    // tonic-types keeps the whole google.rpc.Status (code, message,
    // details) encoded in the status' details.
    let body = match encoding {
        Encoding::Protobuf if !status.details().is_empty() => status.details().to_vec(),
        _ => serde_json::json!({ "code": status.code() as i32, "message": status.message() })
            .to_string()
            .into_bytes(),
    };
    let content_type = if encoding == Encoding::Protobuf && !status.details().is_empty() {
        Encoding::Protobuf.content_type()
    } else {
        Encoding::Json.content_type()
    };
    let mut response = (http, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if retry || http == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    (status.code(), response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{api::error::Limit, store::StoreError};

    fn answered(error: ApiError) -> Response {
        failure(Failure::Api(error), Encoding::Protobuf).1
    }

    #[test]
    fn failures_answer_the_codes_otlp_exporters_act_on() {
        let busy = answered(ApiError::busy(
            Limit {
                reason: "INGEST_LIMIT",
                value: 4,
                flag: Some("--max-concurrent-ingest"),
            },
            "busy".into(),
        ));
        assert_eq!(busy.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(busy.headers()[header::RETRY_AFTER], "1");

        let down = answered(ApiError::Storage(StoreError::Unavailable("down".into())));
        assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(down.headers()[header::RETRY_AFTER], "1");

        let too_big = answered(ApiError::LimitExceeded {
            limit: Limit {
                reason: "OTLP_RECORDS",
                value: 10,
                flag: None,
            },
            message: "too many".into(),
            retry: false,
        });
        assert_eq!(too_big.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert!(too_big.headers().get(header::RETRY_AFTER).is_none());

        let garbage = answered(ApiError::Malformed("not OTLP".into()));
        assert_eq!(garbage.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            garbage.headers()[header::CONTENT_TYPE],
            "application/x-protobuf"
        );
        assert!(garbage.headers().get(header::RETRY_AFTER).is_none());
    }
}
