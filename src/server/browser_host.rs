//! DNS-rebinding protection for a diagd without tokens. Browsers can reach
//! the page and gRPC-Web (HTTP/1.1) on the gRPC port; a web site whose name
//! is re-pointed at 127.0.0.1 would then be "same origin" with an open
//! diagd. So while access control is off and TLS is not used, requests a
//! browser can make (HTTP/1.1, or gRPC-Web) must name diagd by an IP address
//! or `localhost` in their `Host`; others answer 403 saying why. HTTP/2 gRPC
//! clients (which browsers cannot be without TLS) are not affected.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

/// The layer; `None` (see `server`) when tokens or TLS make it unneeded.
#[derive(Clone, Copy, Debug, Default)]
pub struct BrowserHostLayer;

impl<S> tower::Layer<S> for BrowserHostLayer {
    type Service = BrowserHost<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BrowserHost { inner }
    }
}

/// Refuses browser requests that name diagd by a host name other than
/// `localhost`.
#[derive(Clone, Debug)]
pub struct BrowserHost<S> {
    inner: S,
}

/// True when `host` (a Host header or :authority, with an optional port) is
/// an IP address or `localhost` (or a name under `.localhost`).
pub fn is_safe_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        // [::1]:50051
        return rest
            .split(']')
            .next()
            .is_some_and(|ip| ip.parse::<std::net::Ipv6Addr>().is_ok());
    } else {
        host.rsplit_once(':')
            .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
            .map_or(host, |(name, _)| name)
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name.parse::<std::net::IpAddr>().is_ok() || name == "localhost" || name.ends_with(".localhost")
}

impl<S, ReqBody, ResBody> tower::Service<http::Request<ReqBody>> for BrowserHost<S>
where
    S: tower::Service<http::Request<ReqBody>, Response = http::Response<ResBody>> + Send,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = http::Response<ResBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let from_browser = request.version() != http::Version::HTTP_2
            || request
                .headers()
                .get(http::header::CONTENT_TYPE)
                .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc-web"));
        let host = request
            .headers()
            .get(http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .or_else(|| request.uri().authority().map(|a| a.as_str()))
            .unwrap_or("");
        if from_browser && !is_safe_host(host) {
            tracing::warn!(
                host,
                "refused a browser request naming diagd by a host name while it runs without tokens"
            );
            let mut response = http::Response::new(ResBody::default());
            *response.status_mut() = http::StatusCode::FORBIDDEN;
            response.headers_mut().insert(
                "x-diagd-refused",
                http::HeaderValue::from_static(
                    "without tokens diagd answers browsers only at an IP address or localhost (DNS rebinding); configure tokens or TLS to use a host name",
                ),
            );
            return Box::pin(std::future::ready(Ok(response)));
        }
        Box::pin(self.inner.call(request))
    }
}

#[cfg(test)]
mod tests {
    use super::is_safe_host;

    #[test]
    fn only_ip_addresses_and_localhost_are_safe_names() {
        for host in [
            "127.0.0.1:50051",
            "127.0.0.1",
            "[::1]:50051",
            "localhost:50051",
            "LOCALHOST",
            "app.localhost:8080",
            "10.0.0.7:50051",
        ] {
            assert!(is_safe_host(host), "{host}");
        }
        for host in [
            "evil.example:50051",
            "evil.example",
            "",
            "127.0.0.1.evil.example",
            "[nope]:1",
        ] {
            assert!(!is_safe_host(host), "{host}");
        }
    }
}
