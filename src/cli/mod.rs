//! Client sub-commands of the `diagd` binary: they talk to a running diagd
//! over gRPC, like any other client. Shared here: the server address, log
//! filters given as flags, and connection errors that say what to check.

pub mod admin;
pub mod alerts;
pub mod export;
pub mod groups;
pub mod json;
pub mod logs;
mod progress;
pub mod push;
mod render;
pub mod report;
pub mod runs;
pub mod tail;

use chrono::{DateTime, Utc};
use clap::Args;
use tonic::{
    metadata::{Ascii, MetadataValue},
    service::{Interceptor, interceptor::InterceptedService},
    transport::Channel,
};

use crate::{
    api::pb::diagnostics_service_client::DiagnosticsServiceClient,
    domain::{ErrorType, LogFilter, Severity, Source},
    server::tls::ClientTls,
};

/// Where the diagd to talk to listens.
#[derive(Args, Clone, Debug)]
pub struct ServerArgs {
    /// diagd's gRPC address.
    #[arg(long, env = "DIAGD_SERVER", default_value = "http://127.0.0.1:50051")]
    pub server: String,
    /// Bearer token, when diagd requires one.
    #[arg(long, env = "DIAGD_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Connect over TLS, trusting this authority (PEM) for diagd's
    /// certificate (for a --server without a scheme, or https://). An
    /// https:// --server uses TLS with the system's roots; http:// never
    /// uses TLS.
    #[arg(long, env = "DIAGD_TLS_CA")]
    pub tls_ca: Option<std::path::PathBuf>,
    /// Client certificate (PEM), for a diagd started with --tls-client-ca.
    #[arg(long, env = "DIAGD_CLIENT_CERT", requires = "client_key")]
    pub client_cert: Option<std::path::PathBuf>,
    /// Private key of --client-cert (PEM).
    #[arg(long, env = "DIAGD_CLIENT_KEY", requires = "client_cert")]
    pub client_key: Option<std::path::PathBuf>,
    /// Name to check diagd's certificate against, when it is not the host
    /// in --server.
    #[arg(long, env = "DIAGD_TLS_DOMAIN")]
    pub tls_domain: Option<String>,
}

/// A diagd client that sends the bearer token with every call.
pub type Client = DiagnosticsServiceClient<InterceptedService<Channel, BearerToken>>;

/// Adds `authorization: Bearer <token>` to each request.
#[derive(Clone)]
pub struct BearerToken(Option<MetadataValue<Ascii>>);

impl BearerToken {
    /// Sends `token` (none: sends nothing).
    pub fn new(token: Option<&str>) -> Result<Self, String> {
        token
            .map(|t| {
                MetadataValue::try_from(format!("Bearer {}", t.trim())).map_err(|_| {
                    "the token contains characters not allowed in a header".to_string()
                })
            })
            .transpose()
            .map(BearerToken)
    }
}

impl Interceptor for BearerToken {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

impl ServerArgs {
    /// Connects, or explains what to check.
    pub async fn connect(&self) -> Result<Client, String> {
        let token = BearerToken::new(self.token.as_deref())?;
        // An explicit scheme decides; without one, TLS settings mean TLS.
        let tls_settings =
            self.tls_ca.is_some() || self.client_cert.is_some() || self.tls_domain.is_some();
        let (tls_wanted, address) = match self.server.split_once("://") {
            Some(("https", _)) => (true, self.server.clone()),
            Some(_) => (false, self.server.clone()),
            None if tls_settings => (true, format!("https://{}", self.server)),
            None => (false, format!("http://{}", self.server)),
        };
        let mut endpoint = Channel::from_shared(address.clone())
            .map_err(|e| format!("invalid --server address {address:?}: {e}"))?
            .connect_timeout(std::time::Duration::from_secs(5));
        if tls_wanted {
            let tls = ClientTls::load(
                self.tls_ca.as_deref(),
                self.client_cert.as_deref(),
                self.client_key.as_deref(),
                self.tls_domain.clone(),
            )?;
            endpoint = endpoint
                .tls_config(tls.client_config())
                .map_err(|e| format!("TLS settings: {e}"))?;
        }
        let hint = if tls_wanted {
            "This connection used TLS: is diagd serving TLS there, and does --tls-ca hold the \
             authority that signed its certificate?"
        } else {
            "This connection used no TLS: for a diagd started with --tls-cert, use https:// or --tls-ca."
        };
        let unreachable = |cause: String| {
            format!(
                "cannot reach diagd at {address} ({cause}). Is diagd running there? Start it with \
                 `diagd serve`, or point --server / DIAGD_SERVER at it. {hint}"
            )
        };
        // Connected on a runtime thread, where SIGPIPE is blocked: the TCP
        // and TLS handshakes write the socket, and a peer that resets it must
        // give this error, not end the command by signal (see main.rs).
        let channel = tokio::spawn(async move { endpoint.connect().await })
            .await
            .map_err(|e| unreachable(e.to_string()))?
            .map_err(|e| unreachable(error_chain(&e)))?;
        // One health call proves the connection really speaks gRPC with
        // diagd (a plaintext client to a TLS port connects, then fails).
        let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
        let mut probe = tonic::Request::new(tonic_health::pb::HealthCheckRequest::default());
        probe.set_timeout(std::time::Duration::from_secs(5));
        match health.check(probe).await {
            Ok(_) => {}
            // Not diagd's health service, but a gRPC server: let the call say more.
            Err(status) if status.code() == tonic::Code::Unimplemented => {}
            Err(status) => return Err(unreachable(error_chain(&status))),
        }
        Ok(DiagnosticsServiceClient::with_interceptor(channel, token)
            .max_decoding_message_size(64 * 1024 * 1024))
    }
}

/// Which logs a command applies to.
#[derive(Args, Clone, Debug, Default)]
pub struct FilterArgs {
    /// Only these severities: critical, high, medium, low (repeat or separate with commas).
    #[arg(long = "severity", value_delimiter = ',', value_parser = parse_severity)]
    pub severities: Vec<Severity>,
    /// Only these error types: oom, network, configuration, model_loading, training,
    /// inference, other (repeat or separate with commas).
    #[arg(long = "type", value_delimiter = ',', value_parser = parse_error_type)]
    pub error_types: Vec<ErrorType>,
    /// Only logs at or after this time: RFC 3339, or an age such as 30m, 1h, 2d.
    #[arg(long, value_parser = parse_time)]
    pub since: Option<DateTime<Utc>>,
    /// Only logs before this time: RFC 3339, or an age such as 30m, 1h, 2d.
    #[arg(long, value_parser = parse_time)]
    pub until: Option<DateTime<Utc>>,
    /// Only logs from this host.
    #[arg(long)]
    pub host: Option<String>,
    /// Only logs of this training run.
    #[arg(long)]
    pub run_id: Option<String>,
    /// Only logs of this component.
    #[arg(long)]
    pub component: Option<String>,
    /// Only logs whose message contains this text (case ignored).
    #[arg(long)]
    pub message: Option<String>,
    /// Only logs of these error groups (ids from `diagd groups`; repeat or
    /// separate with commas).
    #[arg(long = "group", value_delimiter = ',')]
    pub group_ids: Vec<i64>,
}

impl FilterArgs {
    /// The filter these flags describe.
    pub fn to_filter(&self) -> LogFilter {
        LogFilter {
            severities: self.severities.clone(),
            error_types: self.error_types.clone(),
            since: self.since,
            until: self.until,
            source: Source {
                host: self.host.clone().unwrap_or_default(),
                run_id: self.run_id.clone().unwrap_or_default(),
                component: self.component.clone().unwrap_or_default(),
                labels: Default::default(),
            },
            message_contains: self.message.clone().unwrap_or_default(),
            group_ids: self.group_ids.clone(),
        }
    }
}

/// A severity by its name.
pub(crate) fn parse_severity(name: &str) -> Result<Severity, String> {
    Severity::parse(&name.to_ascii_lowercase()).ok_or_else(|| {
        let names: Vec<&str> = Severity::ALL.iter().map(|s| s.as_str()).collect();
        format!("expected one of {}", names.join(", "))
    })
}

/// An error type by its name.
pub(crate) fn parse_error_type(name: &str) -> Result<ErrorType, String> {
    ErrorType::parse(&name.to_ascii_lowercase().replace('-', "_")).ok_or_else(|| {
        let names: Vec<&str> = ErrorType::ALL.iter().map(|t| t.as_str()).collect();
        format!("expected one of {}", names.join(", "))
    })
}

/// An RFC 3339 time, or an age before now such as `90s`, `30m`, `1h`, `2d`, `1w`.
pub fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let age = crate::config::parse_age(text)
        .map_err(|_| format!("{text:?} is neither an RFC 3339 time nor an age like 30m, 1h, 2d"))?;
    Ok(Utc::now() - age)
}

/// This machine's name, when it can be read.
pub(crate) fn host_name() -> Option<String> {
    nix::unistd::gethostname()
        .ok()
        .and_then(|name| name.into_string().ok())
}

/// An error with its causes, as one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        let cause = inner.to_string();
        if !text.contains(&cause) {
            text = format!("{text}: {cause}");
        }
        source = inner.source();
    }
    text
}

/// A gRPC failure for a person: a line with the code and diagd's message,
/// then what its error details add — the invalid field, the limit and the
/// server flag that sets it, when to retry.
pub fn describe(status: &tonic::Status) -> String {
    use tonic_types::StatusExt;
    let mut text = match status.code() {
        tonic::Code::Unavailable => format!("diagd is unavailable: {}", status.message()),
        tonic::Code::Unauthenticated | tonic::Code::PermissionDenied => format!(
            "{} (pass a token of the right role with --token or DIAGD_TOKEN)",
            status.message()
        ),
        code => format!("{code:?}: {}", status.message()),
    };
    let details = status.get_error_details();
    if let Some(bad_request) = details.bad_request() {
        for violation in &bad_request.field_violations {
            text.push_str(&format!("\n  field: {}", violation.field));
        }
    }
    if let Some(info) = details.error_info()
        && let (Some(limit), Some(flag)) = (info.metadata.get("limit"), info.metadata.get("flag"))
    {
        text.push_str(&format!("\n  limit: {limit} (the server's {flag})"));
    }
    if let Some(delay) = details.retry_info().and_then(|retry| retry.retry_delay) {
        text.push_str(&format!(
            "\n  hint: this may pass if retried in {} ms or later",
            delay.as_millis()
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_or_ages() {
        assert_eq!(
            parse_time("2026-11-25T10:00:00Z").unwrap(),
            "2026-11-25T10:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        let hour_ago = parse_time("1h").unwrap();
        let expected = Utc::now() - chrono::TimeDelta::hours(1);
        assert!((hour_ago - expected).num_seconds().abs() <= 1);
        assert!(parse_time("5 parsecs").is_err());
        assert!(parse_time("3y").is_err());
    }

    #[test]
    fn a_failure_shows_its_limit_flag_and_retry_hint() {
        use crate::api::error::{ApiError, Limit};
        let status = tonic::Status::from(ApiError::busy(
            Limit {
                reason: "STREAM_LIMIT",
                value: 6,
                flag: Some("--max-streams"),
            },
            "stream limit reached".into(),
        ));
        assert_eq!(
            describe(&status),
            "ResourceExhausted: stream limit reached\n  limit: 6 (the server's --max-streams)\n  \
             hint: this may pass if retried in 1000 ms or later"
        );
    }
}
