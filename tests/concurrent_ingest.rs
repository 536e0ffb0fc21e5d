//! Concurrent writers: batches that bring the same new stack traces in
//! opposite orders, at the same moment, must all be stored. The traces are
//! inserted in hash order, so two such transactions cannot deadlock; a lost
//! race of another kind would answer ABORTED ("retry"), never INTERNAL.

mod common;

use common::{TestServer, new_log, stats};
use diagd::api::pb;

#[tokio::test]
async fn batches_sharing_new_stack_traces_in_opposite_orders_all_commit() {
    let server = TestServer::start().await;
    let mut first = server.client().await;
    let mut second = server.client().await;
    let rounds = 10;
    let per_batch = 400;
    for round in 0..rounds {
        let traces: Vec<String> = (0..per_batch)
            .map(|i| {
                format!(
                    "Traceback round {round} frame {i} {}\n  File \"x.py\"",
                    uuid::Uuid::new_v4()
                )
            })
            .collect();
        let batch = |order: Vec<usize>| pb::IngestLogsRequest {
            logs: order
                .into_iter()
                .map(|i| pb::NewLog {
                    stack_trace: traces[i].clone(),
                    ..new_log("shared trace", pb::Severity::High, pb::ErrorType::Training)
                })
                .collect(),
        };
        let forward = batch((0..per_batch).collect());
        let backward = batch((0..per_batch).rev().collect());
        let (a, b) = tokio::join!(
            first.ingest_logs(tokio_stream::iter(vec![forward])),
            second.ingest_logs(tokio_stream::iter(vec![backward])),
        );
        assert_eq!(
            a.expect("first writer").into_inner().accepted,
            per_batch as u64
        );
        assert_eq!(
            b.expect("second writer").into_inner().accepted,
            per_batch as u64
        );
    }
    assert_eq!(
        stats(&mut first).await.total,
        (rounds * per_batch * 2) as u64
    );
}
