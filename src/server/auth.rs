//! Access control: optional bearer tokens by role, checked for every
//! diagnostics RPC before it runs (a tower layer on the gRPC server).
//! Reflection and health stay open. Tokens are compared in constant time and
//! never logged.
//!
//! - `ingest`: ReportError, IngestLogs, RecordAction, Heartbeat, OTLP's
//!   logs Export (gRPC and HTTP), and following debug
//!   mode (GetDebugMode, WatchDebugMode) — what a trainer needs;
//! - `read`: listing, getting, searching, tailing, stats, reports (not
//!   deleting them), export, error groups (ListGroups, GetGroup), runs
//!   (ListRuns, GetRun, WatchRuns), and
//!   reading debug mode;
//! - `admin`: everything, including ClearLogs, SetDebugMode, DeleteReport,
//!   and triaging groups (UpdateGroup, MergeGroups, SplitGroup).

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use subtle::ConstantTimeEq;
use tonic::Status;

use crate::api::error::ApiError;

/// The diagnostics service's path prefix; other services are open (but
/// OTLP's Export, below).
const SERVICE_PREFIX: &str = "/diagnostics.v1.DiagnosticsService/";

/// OTLP's logs export (gRPC; OTLP/HTTP checks tokens as if called here):
/// the ingest role's, as method `OtlpExport`.
pub const OTLP_LOGS_PATH: &str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";

/// What a token allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Push errors and actions; follow debug mode.
    Ingest,
    /// Read everything.
    Read,
    /// Everything.
    Admin,
}

impl Role {
    /// The role's name, as in flags and token files.
    pub fn name(self) -> &'static str {
        match self {
            Role::Ingest => "ingest",
            Role::Read => "read",
            Role::Admin => "admin",
        }
    }
}

/// The caller's role, put in each diagnostics request's extensions by the
/// layer: `None` when access control is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller(pub Option<Role>);

/// The DiagnosticsService methods `role` may call (all of them when access
/// control is off, `role` = `None`), in the order of the service definition.
pub fn allowed_methods(role: Option<Role>) -> Vec<String> {
    static METHODS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let all = METHODS.get_or_init(|| {
        prost_reflect::DescriptorPool::decode(crate::api::pb::FILE_DESCRIPTOR_SET)
            .ok()
            .and_then(|pool| pool.get_service_by_name("diagnostics.v1.DiagnosticsService"))
            .map(|service| service.methods().map(|m| m.name().to_string()).collect())
            .unwrap_or_default()
    });
    all.iter()
        .filter(|method| role.is_none_or(|role| roles_for(method).contains(&role)))
        .cloned()
        .collect()
}

/// The roles that may call `method` (the RPC's name). Unknown methods need
/// admin.
fn roles_for(method: &str) -> &'static [Role] {
    match method {
        "ReportError" | "IngestLogs" | "RecordAction" | "OtlpExport" | "Heartbeat" => {
            &[Role::Ingest, Role::Admin]
        }
        "GetDebugMode" | "WatchDebugMode" | "GetAccess" => &[Role::Ingest, Role::Read, Role::Admin],
        "ListLogs" | "GetLog" | "SearchLogs" | "SubscribeLogs" | "GetStats" | "GenerateReport"
        | "GetReport" | "ListReports" | "DownloadReport" | "ExportLogs" | "ListGroups"
        | "GetGroup" | "ListRuns" | "GetRun" | "WatchRuns" => &[Role::Read, Role::Admin],
        _ => &[Role::Admin],
    }
}

/// The configured tokens. Empty: access control is off.
#[derive(Clone, Default)]
pub struct Tokens {
    /// (role, token) pairs.
    entries: Arc<Vec<(Role, Vec<u8>)>>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Tokens({} configured, values hidden)",
            self.entries.len()
        )
    }
}

impl Tokens {
    /// Tokens from lists per role (empty strings ignored).
    pub fn new(ingest: &[String], read: &[String], admin: &[String]) -> Tokens {
        let mut entries = Vec::new();
        for (role, tokens) in [
            (Role::Ingest, ingest),
            (Role::Read, read),
            (Role::Admin, admin),
        ] {
            for token in tokens.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
                entries.push((role, token.as_bytes().to_vec()));
            }
        }
        Tokens {
            entries: Arc::new(entries),
        }
    }

    /// Adds tokens from a file of `role token` lines (`#` comments allowed).
    pub fn with_file(self, text: &str) -> Result<Tokens, String> {
        let mut entries = (*self.entries).clone();
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (role, token) = line
                .split_once(char::is_whitespace)
                .ok_or_else(|| format!("line {}: expected `<role> <token>`", number + 1))?;
            let role = match role.trim_end_matches(':') {
                "ingest" => Role::Ingest,
                "read" => Role::Read,
                "admin" => Role::Admin,
                other => {
                    return Err(format!(
                        "line {}: unknown role {other:?} (ingest, read, admin)",
                        number + 1
                    ));
                }
            };
            entries.push((role, token.trim().as_bytes().to_vec()));
        }
        Ok(Tokens {
            entries: Arc::new(entries),
        })
    }

    /// How many tokens of `role` are configured.
    pub fn count(&self, role: Role) -> usize {
        self.entries.iter().filter(|(r, _)| *r == role).count()
    }

    /// True when no token is configured (access control off).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The role of `presented`, comparing against every token in constant
    /// time.
    fn role_of(&self, presented: &[u8]) -> Option<Role> {
        let mut found = None;
        for (role, token) in self.entries.iter() {
            if bool::from(token.as_slice().ct_eq(presented)) && found.is_none() {
                found = Some(*role);
            }
        }
        found
    }

    /// Checks the `authorization` header for a call of `path`; answers the
    /// caller's role (`None`: access control is off, or `path` is open).
    pub fn check(
        &self,
        path: &str,
        authorization: Option<&[u8]>,
    ) -> Result<Option<Role>, ApiError> {
        let method = if path == OTLP_LOGS_PATH {
            "OtlpExport"
        } else {
            let Some(method) = path.strip_prefix(SERVICE_PREFIX) else {
                return Ok(None); // reflection, health, the page
            };
            method
        };
        if self.is_empty() {
            return Ok(None);
        }
        let token = authorization
            .and_then(|value| {
                value
                    .strip_prefix(b"Bearer ")
                    .or_else(|| value.strip_prefix(b"bearer "))
            })
            .ok_or_else(|| ApiError::Unauthenticated {
                reason: "TOKEN_MISSING",
                message: "missing token: send `authorization: Bearer <token>` metadata".into(),
            })?;
        let role = self
            .role_of(token)
            .ok_or_else(|| ApiError::Unauthenticated {
                reason: "TOKEN_INVALID",
                message: "invalid token".into(),
            })?;
        let allowed = roles_for(method);
        if allowed.contains(&role) {
            Ok(Some(role))
        } else {
            Err(ApiError::PermissionDenied {
                method: method.to_string(),
                allowed: allowed.iter().map(|r| r.name()).collect(),
                role: role.name(),
            })
        }
    }
}

/// The tower layer that checks tokens.
#[derive(Clone)]
pub struct AuthLayer {
    tokens: Tokens,
}

impl AuthLayer {
    /// A layer checking `tokens`.
    pub fn new(tokens: Tokens) -> Self {
        AuthLayer { tokens }
    }
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            tokens: self.tokens.clone(),
        }
    }
}

/// Refuses calls without a fitting token; passes the rest on.
#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    tokens: Tokens,
}

impl<S, ReqBody, ResBody> tower::Service<http::Request<ReqBody>> for AuthService<S>
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

    fn call(&mut self, mut request: http::Request<ReqBody>) -> Self::Future {
        let authorization = request
            .headers()
            .get(http::header::AUTHORIZATION)
            .map(|v| v.as_bytes());
        match self.tokens.check(request.uri().path(), authorization) {
            Ok(role) => {
                request.extensions_mut().insert(Caller(role));
                Box::pin(self.inner.call(request))
            }
            Err(error) => {
                let status = Status::from(error);
                crate::metrics::METRICS.request(
                    crate::metrics::method_of(request.uri().path()),
                    status.code(),
                    None,
                );
                let content_type = request.headers().get(http::header::CONTENT_TYPE).cloned();
                Box::pin(std::future::ready(Ok(crate::server::status_answer(
                    status,
                    content_type,
                ))))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use tonic::Code;

    use super::*;

    fn tokens() -> Tokens {
        Tokens::new(&["i1".into()], &["r1".into()], &["a1".into()])
    }

    #[test]
    fn roles_gate_methods() {
        let t = tokens();
        let path = |m: &str| format!("{SERVICE_PREFIX}{m}");
        assert!(t.check(&path("ReportError"), Some(b"Bearer i1")).is_ok());
        assert!(t.check(&path("WatchDebugMode"), Some(b"Bearer i1")).is_ok());
        assert_eq!(
            t.check(&path("ListLogs"), Some(b"Bearer i1"))
                .map_err(Status::from)
                .unwrap_err()
                .code(),
            Code::PermissionDenied
        );
        assert!(t.check(&path("ListLogs"), Some(b"Bearer r1")).is_ok());
        assert_eq!(
            t.check(&path("ClearLogs"), Some(b"Bearer r1"))
                .map_err(Status::from)
                .unwrap_err()
                .code(),
            Code::PermissionDenied
        );
        assert!(t.check(&path("ClearLogs"), Some(b"Bearer a1")).is_ok());
        assert_eq!(
            t.check(&path("GetLog"), None)
                .map_err(Status::from)
                .unwrap_err()
                .code(),
            Code::Unauthenticated
        );
        assert_eq!(
            t.check(&path("GetLog"), Some(b"Bearer nope"))
                .map_err(Status::from)
                .unwrap_err()
                .code(),
            Code::Unauthenticated
        );
        assert!(t.check("/grpc.health.v1.Health/Check", None).is_ok());
        assert!(Tokens::default().check(&path("ClearLogs"), None).is_ok());
    }

    #[test]
    fn token_files_name_roles() {
        let t = Tokens::default()
            .with_file("# trainers\ningest: abc\nadmin   xyz\n")
            .unwrap();
        assert_eq!(t.role_of(b"abc"), Some(Role::Ingest));
        assert_eq!(t.role_of(b"xyz"), Some(Role::Admin));
        assert!(Tokens::default().with_file("root x").is_err());
        assert!(
            !format!("{t:?}").contains("abc"),
            "tokens never appear in Debug output"
        );
    }
}
