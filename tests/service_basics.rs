//! What every client meets first: reflection (so grpcurl and buf curl need
//! no proto file), health that follows the database, and migrations
//! recorded in the database.

mod common;

use common::{TestServer, assert_status};
use diagd::api::pb;
use tonic::Code;
use tonic_health::pb::{health_check_response::ServingStatus, health_client::HealthClient};
use tonic_reflection::pb::{v1, v1alpha};

#[tokio::test]
async fn reflection_v1_and_v1alpha_list_the_service() {
    let server = TestServer::start().await;
    let channel = server.channel().await;

    let mut client = v1::server_reflection_client::ServerReflectionClient::new(channel.clone());
    let request = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let mut responses = client
        .server_reflection_info(tokio_stream::iter(vec![request]))
        .await
        .unwrap()
        .into_inner();
    let response = responses
        .message()
        .await
        .unwrap()
        .expect("a reflection response");
    let Some(v1::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        response.message_response
    else {
        panic!("expected a service list, got {response:?}");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(
        names.contains(&"diagnostics.v1.DiagnosticsService".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"grpc.health.v1.Health".to_string()),
        "{names:?}"
    );
    // OTLP's logs service is served and listed; its other signals are not.
    assert!(
        names.contains(&"opentelemetry.proto.collector.logs.v1.LogsService".to_string()),
        "{names:?}"
    );
    assert!(
        !names.iter().any(|n| n.contains("TraceService")),
        "{names:?}"
    );

    let mut client = v1alpha::server_reflection_client::ServerReflectionClient::new(channel);
    let request = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            v1alpha::server_reflection_request::MessageRequest::FileContainingSymbol(
                "diagnostics.v1.DiagnosticsService".into(),
            ),
        ),
    };
    let mut responses = client
        .server_reflection_info(tokio_stream::iter(vec![request]))
        .await
        .unwrap()
        .into_inner();
    let response = responses
        .message()
        .await
        .unwrap()
        .expect("a reflection response");
    assert!(
        matches!(
            response.message_response,
            Some(v1alpha::server_reflection_response::MessageResponse::FileDescriptorResponse(ref files)) if !files.file_descriptor_proto.is_empty()
        ),
        "v1alpha serves the proto file: {response:?}"
    );
}

#[tokio::test]
async fn health_is_serving_only_while_the_database_answers() {
    let server = TestServer::start().await;
    let mut health = HealthClient::new(server.channel().await);
    common::wait_for_health(&mut health, "", ServingStatus::Serving).await;
    common::wait_for_health(
        &mut health,
        "diagnostics.v1.DiagnosticsService",
        ServingStatus::Serving,
    )
    .await;

    // Take the database away under the running server.
    common::drop_database_blocking(&server.dbname);
    common::wait_for_health(&mut health, "", ServingStatus::NotServing).await;
    common::wait_for_health(
        &mut health,
        "diagnostics.v1.DiagnosticsService",
        ServingStatus::NotServing,
    )
    .await;
    let mut client = server.client().await;
    assert_status(
        client.get_stats(pb::GetStatsRequest::default()).await,
        Code::Unavailable,
        "the database is unavailable",
    );
}

#[tokio::test]
async fn migrate_creates_a_missing_database_and_records_versions() {
    let dbname = common::unique_database_name();
    let url = common::database_url(&dbname);
    let migrate = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_diagd"))
            .arg("migrate")
            .env("DATABASE_URL", &url)
            .env("DIAGD_LOG", "warn")
            .output()
            .expect("running diagd migrate")
    };
    let first = migrate();
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(
        first.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(stdout.starts_with("applied migrations [1"), "{stdout}");
    let second = migrate();
    let stdout = String::from_utf8_lossy(&second.stdout);
    assert!(second.status.success());
    assert!(
        stdout.starts_with("schema is up to date (version "),
        "{stdout}"
    );
    common::drop_database_blocking(&dbname);
}
