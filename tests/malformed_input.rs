//! Malformed input (issue #5, rule 7): bytes that are not protobuf, cut-off
//! messages, invalid UTF-8 in strings, oversized messages, huge repeated
//! fields, JSON nested past the limits and NUL characters. Each gets a clear
//! status naming what is wrong, the server keeps serving, and nothing of a
//! refused request is stored. Raw bytes are sent with a pass-through codec,
//! as a broken or hostile client would.

mod common;

use std::time::{Duration, Instant};

use bytes::BufMut;
use common::{Client, TestServer, json_struct, new_log, stats, test_options};
use diagd::api::pb;
use prost::Message;
use tonic::{
    Code, Status,
    codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
    transport::Channel,
};

/// Sends raw bytes as the request; decodes the answer as `U`.
struct RawCodec<U>(std::marker::PhantomData<U>);

impl<U> Default for RawCodec<U> {
    fn default() -> Self {
        RawCodec(std::marker::PhantomData)
    }
}

impl<U: Message + Default + Send + 'static> Codec for RawCodec<U> {
    type Encode = Vec<u8>;
    type Decode = U;
    type Encoder = RawEncoder;
    type Decoder = ProstDecoder<U>;

    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }

    fn decoder(&mut self) -> ProstDecoder<U> {
        ProstDecoder(std::marker::PhantomData)
    }
}

struct RawEncoder;

impl Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        buf.put_slice(&item);
        Ok(())
    }
}

struct ProstDecoder<U>(std::marker::PhantomData<U>);

impl<U: Message + Default> Decoder for ProstDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        U::decode(buf)
            .map(Some)
            .map_err(|e| Status::internal(e.to_string()))
    }
}

/// Calls ReportError with `bytes` as the request message.
async fn report_raw(channel: Channel, bytes: Vec<u8>) -> Result<pb::ReportErrorResponse, Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    grpc.unary(
        tonic::Request::new(bytes),
        "/diagnostics.v1.DiagnosticsService/ReportError"
            .parse()
            .unwrap(),
        RawCodec::<pb::ReportErrorResponse>::default(),
    )
    .await
    .map(tonic::Response::into_inner)
}

/// Calls IngestLogs with each element of `messages` as one raw batch.
async fn ingest_raw(
    channel: Channel,
    messages: Vec<Vec<u8>>,
) -> Result<pb::IngestLogsResponse, Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    grpc.client_streaming(
        tonic::Request::new(tokio_stream::iter(messages)),
        "/diagnostics.v1.DiagnosticsService/IngestLogs"
            .parse()
            .unwrap(),
        RawCodec::<pb::IngestLogsResponse>::default(),
    )
    .await
    .map(tonic::Response::into_inner)
}

/// A valid ReportErrorRequest, encoded.
fn encoded_report(message: &str) -> Vec<u8> {
    pb::ReportErrorRequest {
        log: Some(new_log(
            message,
            pb::Severity::High,
            pb::ErrorType::Training,
        )),
    }
    .encode_to_vec()
}

/// Asserts the status code and that the message names `needle`.
#[track_caller]
fn assert_refused<T: std::fmt::Debug>(result: Result<T, Status>, code: Code, needle: &str) {
    common::assert_status(result, code, needle);
}

/// The server still answers a valid request, and holds `expected` logs.
async fn still_serving_with(client: &mut Client, expected: u64) {
    client
        .report_error(pb::ReportErrorRequest {
            log: Some(new_log(
                "still serving",
                pb::Severity::Low,
                pb::ErrorType::Other,
            )),
        })
        .await
        .expect("a valid request after malformed ones");
    assert_eq!(stats(client).await.total, expected + 1);
}

#[tokio::test]
async fn bytes_that_are_not_protobuf_answer_invalid_argument_naming_the_message() {
    let server = TestServer::start().await;
    let channel = server.channel().await;

    // Garbage: a field with wire type 7, which does not exist.
    assert_refused(
        report_raw(channel.clone(), vec![0xff; 16]).await,
        Code::InvalidArgument,
        "not a valid diagnostics.v1.ReportErrorRequest protobuf message",
    );

    // A valid message cut short in the middle of a field.
    let mut truncated = encoded_report("CUDA out of memory while allocating 2.0 GiB");
    truncated.truncate(truncated.len() - 5);
    assert_refused(
        report_raw(channel.clone(), truncated).await,
        Code::InvalidArgument,
        "ReportErrorRequest",
    );

    // In a stream: the valid first batch is stored, the garbage second one is
    // refused and named.
    let first = pb::IngestLogsRequest {
        logs: vec![new_log(
            "batch one",
            pb::Severity::Medium,
            pb::ErrorType::Network,
        )],
    }
    .encode_to_vec();
    assert_refused(
        ingest_raw(channel.clone(), vec![first, vec![0x0a, 0xff, 0xff, 0xff]]).await,
        Code::InvalidArgument,
        "IngestLogsRequest",
    );
    assert_refused(
        ingest_raw(channel.clone(), vec![vec![0x0a, 0xff, 0xff]]).await,
        Code::InvalidArgument,
        "batch 0: ",
    );
    let second_bad = ingest_raw(
        channel.clone(),
        vec![
            pb::IngestLogsRequest::default().encode_to_vec(),
            vec![0x0a, 0xff],
        ],
    )
    .await;
    assert_refused(
        second_bad,
        Code::InvalidArgument,
        "batches of this stream stored: 1",
    );

    let mut client = server.client().await;
    still_serving_with(&mut client, 1).await;
}

#[tokio::test]
async fn invalid_utf8_in_a_string_field_answers_invalid_argument() {
    let server = TestServer::start().await;
    let mut bytes = encoded_report("MARKER-MARKER");
    let at = bytes
        .windows(6)
        .position(|w| w == b"MARKER")
        .expect("the message text in the encoding");
    // An overlong encoding and a lone continuation byte: not UTF-8.
    bytes[at..at + 6].copy_from_slice(&[0xc0, 0xaf, 0x80, 0xfe, 0xff, 0x41]);
    assert_refused(
        report_raw(server.channel().await, bytes).await,
        Code::InvalidArgument,
        "UTF-8",
    );
    let mut client = server.client().await;
    still_serving_with(&mut client, 0).await;
}

#[tokio::test]
async fn oversized_messages_and_huge_repeated_fields_are_bounded() {
    let mut options = test_options();
    options.max_message_bytes = 256 * 1024;
    let server = TestServer::start_with(options).await;
    let mut client = server.client().await;

    // Over --max-message-bytes: RESOURCE_EXHAUSTED with what to do, before
    // any of it is buffered or stored.
    let mut big = new_log("huge trace", pb::Severity::High, pb::ErrorType::Training);
    big.stack_trace = "frame\n".repeat(60_000);
    assert_refused(
        client
            .report_error(pb::ReportErrorRequest { log: Some(big) })
            .await,
        Code::ResourceExhausted,
        "--max-message-bytes",
    );

    // A filter repeating one severity 100,000 times (200 KB): answered at
    // once, as if listed once.
    let started = Instant::now();
    let listed = client
        .list_logs(pb::ListLogsRequest {
            filter: Some(pb::LogFilter {
                severities: vec![pb::Severity::High as i32; 100_000],
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("a filter with repeated severities")
        .into_inner();
    assert!(listed.logs.is_empty());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );

    // 1,001 recent actions on one log: over the limit, named.
    let mut crowded = new_log(
        "too many breadcrumbs",
        pb::Severity::Low,
        pb::ErrorType::Other,
    );
    crowded.recent_actions = (0..1001)
        .map(|i| pb::RecentAction {
            action: format!("step {i}"),
            ..Default::default()
        })
        .collect();
    assert_refused(
        client
            .report_error(pb::ReportErrorRequest { log: Some(crowded) })
            .await,
        Code::InvalidArgument,
        "log.recent_actions: at most 1000 actions",
    );

    still_serving_with(&mut client, 0).await;
}

/// A context `{"a": {"a": … {"leaf": 1}}}` nested `depth` objects deep.
fn nested_context(depth: usize) -> prost_types::Struct {
    let mut value = serde_json::json!({ "leaf": 1 });
    for _ in 1..depth {
        value = serde_json::json!({ "a": value });
    }
    json_struct(value)
}

#[tokio::test]
async fn deeply_nested_context_is_refused_with_its_field() {
    let server = TestServer::start().await;
    let mut client = server.client().await;

    // Past diagd's JSON depth limit (20): validation names the field.
    let mut deep = new_log("deep context", pb::Severity::Low, pb::ErrorType::Other);
    deep.context = Some(nested_context(25));
    assert_refused(
        client
            .report_error(pb::ReportErrorRequest { log: Some(deep) })
            .await,
        Code::InvalidArgument,
        "log.context",
    );

    // Past protobuf's recursion limit (each JSON level is two messages):
    // refused while decoding, without a stack overflow.
    let mut deeper = new_log("deeper context", pb::Severity::Low, pb::ErrorType::Other);
    deeper.context = Some(nested_context(80));
    let bytes = pb::ReportErrorRequest { log: Some(deeper) }.encode_to_vec();
    assert_refused(
        report_raw(server.channel().await, bytes).await,
        Code::InvalidArgument,
        "recursion limit",
    );

    still_serving_with(&mut client, 0).await;
}

#[tokio::test]
async fn nul_characters_are_refused_with_their_field_and_never_reach_the_insert() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let base = || new_log("ok", pb::Severity::High, pb::ErrorType::Training);
    let cases: Vec<(pb::NewLog, &str)> = vec![
        (
            pb::NewLog {
                stack_trace: "Traceback\0".into(),
                ..base()
            },
            "log.stack_trace",
        ),
        (
            pb::NewLog {
                context: Some(json_struct(serde_json::json!({ "model": "llama\u{0}" }))),
                ..base()
            },
            "log.context",
        ),
        (
            pb::NewLog {
                context: Some(json_struct(serde_json::json!({ "bad\u{0}key": 1 }))),
                ..base()
            },
            "log.context",
        ),
        (
            pb::NewLog {
                source: Some(pb::Source {
                    labels: [("team".to_string(), "nlp\0".to_string())].into(),
                    ..Default::default()
                }),
                ..base()
            },
            "log.source.labels[team]",
        ),
        (
            pb::NewLog {
                recent_actions: vec![pb::RecentAction {
                    action: "load\0model".into(),
                    ..Default::default()
                }],
                ..base()
            },
            "log.recent_actions[0].action",
        ),
    ];
    for (log, field) in cases {
        assert_refused(
            client
                .report_error(pb::ReportErrorRequest { log: Some(log) })
                .await,
            Code::InvalidArgument,
            field,
        );
    }

    // In a batch: the NUL log is rejected with its index, the others stored.
    let answer = common::ingest(
        &mut client,
        vec![vec![
            base(),
            pb::NewLog {
                message: "bad \0 message".into(),
                ..base()
            },
            base(),
        ]],
    )
    .await;
    assert_eq!(answer.accepted, 2);
    assert_eq!(answer.rejected, 1);
    assert_eq!(answer.rejections[0].index, 1);
    assert!(answer.rejections[0].field.contains("message"), "{answer:?}");

    still_serving_with(&mut client, 2).await;
}
