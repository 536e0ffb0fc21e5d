//! The Logging & Diagnostics page, served on the gRPC port: the built bundle
//! of `web/` (`web/dist`, committed) embedded in the binary, answered over
//! HTTP/1.1 or HTTP/2 at `/` and `/assets/…`. The page talks to diagd over
//! gRPC-Web on the same port (`tonic-web`, set up in `server`); this module
//! only serves files: with their content type, an ETag, gzip when the
//! browser takes it, a strict Content-Security-Policy, and caching that
//! never serves a stale `index.html`.

use axum::{
    Router,
    extract::Path,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use rust_embed::RustEmbed;

/// The built page (`cd web && npm run build`).
#[derive(RustEmbed)]
#[folder = "web/dist/"]
struct Bundle;

/// The page's routes, for the gRPC server's router; every other path falls
/// through to the gRPC services. `frame_ancestors` is the CSP
/// `frame-ancestors` source list (`'none'` unless `--cors-origin` names an
/// app that may embed the page).
pub fn routes(frame_ancestors: String) -> Router {
    let csp = HeaderValue::from_str(&format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors {frame_ancestors}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'"));
    let index = {
        let csp = csp.clone();
        move |headers: HeaderMap| {
            let csp = csp.clone();
            async move { file("index.html", &headers, csp) }
        }
    };
    let asset = move |Path(path): Path<String>, headers: HeaderMap| {
        let csp = csp.clone();
        async move { file(&format!("assets/{path}"), &headers, csp) }
    };
    Router::new()
        .route("/", get(index.clone()))
        .route("/index.html", get(index))
        .route("/assets/{*path}", get(asset))
        .layer(tower_http::compression::CompressionLayer::new().gzip(true))
}

/// One embedded file, or 404.
fn file(path: &str, request: &HeaderMap, csp: HeaderValue) -> Response {
    let Some(file) = Bundle::get(path) else {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    };
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..16]));
    let mut response = if request
        .get(header::IF_NONE_MATCH)
        .is_some_and(|value| value.as_bytes() == etag.as_bytes())
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut response = file.data.into_owned().into_response();
        if let Ok(mime) = HeaderValue::from_str(file.metadata.mimetype()) {
            response.headers_mut().insert(header::CONTENT_TYPE, mime);
        }
        response
    };
    let headers = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, etag);
    }
    // Assets are named by content; index.html is checked every time, so a new
    // diagd never runs an old page.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if path.starts_with("assets/") {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        }),
    );
    headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundle_has_a_page_and_its_assets() {
        let index = Bundle::get("index.html").expect("web/dist/index.html is embedded");
        let html = String::from_utf8_lossy(&index.data);
        assert!(html.contains("/assets/"), "index.html loads its assets");
        for asset in Bundle::iter().filter(|p| p.starts_with("assets/")) {
            let name = asset.trim_start_matches("assets/");
            assert!(
                html.contains(name) || asset.ends_with(".map"),
                "{asset} is referenced by index.html"
            );
        }
    }
}
