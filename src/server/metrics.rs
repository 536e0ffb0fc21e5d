//! The `/metrics` endpoint (`--metrics-listen`, off by default): sets the
//! gauges read on demand — live-tail subscribers, each pool's connections,
//! the standby's lag —
//! and prints diagd's registry (`crate::metrics`) as OpenMetrics text.

use std::{net::SocketAddr, sync::Arc};

use tokio_util::sync::CancellationToken;

use crate::{
    metrics::{METRICS, PoolLabels},
    store::Store,
    workers::tail::Hub,
};

/// Sets the gauges read on demand from `store` and `hub`.
fn refresh(store: &Store, hub: &Hub) {
    METRICS.live_subscribers.set(hub.subscriber_count() as i64);
    if let Some(standby) = store.standby_status() {
        METRICS.standby(
            standby.lag,
            standby.state == crate::store::StandbyState::Streaming,
        );
    }
    for pool in store.pool_statuses() {
        for (state, value) in [
            ("in_use", pool.in_use),
            ("idle", pool.idle),
            ("waiting", pool.waiting),
        ] {
            METRICS
                .db_connections
                .get_or_create(&PoolLabels {
                    pool: pool.name,
                    state,
                })
                .set(value as i64);
        }
    }
}

/// Serves `GET /metrics` on `listener` until `shutdown`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    store: Store,
    hub: Hub,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let state = Arc::new((store, hub));
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let state = state.clone();
            async move {
                refresh(&state.0, &state.1);
                let text = METRICS.encode();
                (
                    [(
                        http::header::CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    text,
                )
            }
        }),
    );
    let address: Option<SocketAddr> = listener.local_addr().ok();
    tracing::info!(?address, "metrics at /metrics");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}
