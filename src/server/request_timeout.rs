//! The server's request timeout, applied where it means something: a unary
//! call must be answered, and a server stream must start, within it; a
//! client stream (IngestLogs) is never cut by it, since it may stay open for
//! a whole training run. The client's own `grpc-timeout` still applies to
//! every call (tonic enforces it).

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use tonic::Status;

use crate::api::error::{ApiError, Limit};

/// Methods whose requests are streams from the client: not timed.
const CLIENT_STREAMS: &[&str] = &["/diagnostics.v1.DiagnosticsService/IngestLogs"];

/// Applies the request timeout to every call but client streams.
#[derive(Clone, Debug)]
pub struct RequestTimeoutLayer {
    /// The limit.
    timeout: Duration,
}

impl RequestTimeoutLayer {
    /// A layer timing calls out after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        RequestTimeoutLayer { timeout }
    }
}

impl<S> tower::Layer<S> for RequestTimeoutLayer {
    type Service = RequestTimeout<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestTimeout {
            inner,
            timeout: self.timeout,
        }
    }
}

/// See [`RequestTimeoutLayer`].
#[derive(Clone, Debug)]
pub struct RequestTimeout<S> {
    inner: S,
    timeout: Duration,
}

impl<S, ReqBody, ResBody> tower::Service<http::Request<ReqBody>> for RequestTimeout<S>
where
    S: tower::Service<http::Request<ReqBody>, Response = http::Response<ResBody>> + Send,
    S::Error: Send + 'static,
    S::Future: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = http::Response<ResBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let timed = !CLIENT_STREAMS.contains(&request.uri().path());
        let method = crate::metrics::method_of(request.uri().path());
        let content_type = request.headers().get(http::header::CONTENT_TYPE).cloned();
        let answer = self.inner.call(request);
        if !timed {
            return Box::pin(answer);
        }
        let timeout = self.timeout;
        Box::pin(async move {
            match tokio::time::timeout(timeout, answer).await {
                Ok(answered) => answered,
                Err(_) => {
                    // The handler was dropped unanswered: counted here.
                    crate::metrics::METRICS.request(
                        method,
                        tonic::Code::DeadlineExceeded,
                        Some(timeout),
                    );
                    let status = Status::from(ApiError::Deadline {
                        limit: Limit {
                            reason: "REQUEST_TIMEOUT",
                            value: timeout.as_secs(),
                            flag: Some("--request-timeout-secs"),
                        },
                        message: format!(
                            "diagd's request timeout expired ({} ms, --request-timeout-secs)",
                            timeout.as_millis()
                        ),
                    });
                    Ok(crate::server::status_answer(status, content_type))
                }
            }
        })
    }
}
