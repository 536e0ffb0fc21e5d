//! The fingerprint rules (issue #13) against real tracebacks that users
//! posted to public issue trackers (`tests/data/tracebacks.json`, each with
//! its source, in clusters of one root error): no two clusters ever share a
//! fingerprint — in particular the near misses, the same exception type
//! from the same lines with another cause, stay apart.
//!
//! Not asserted yet: that each cluster is *one* fingerprint. Most of its
//! clusters gather the same error from different projects, whose in-app
//! frames differ, so today's rules (all in-app frames) split them; the
//! rule for the frames that count is the open part of issue #13.

use std::collections::BTreeMap;

use diagd::domain::fingerprint::{GroupingOptions, fingerprint};
use serde::Deserialize;

#[derive(Deserialize)]
struct Entry {
    id: String,
    cluster: String,
    source: String,
    message: String,
    stack_trace: String,
}

fn corpus() -> Vec<Entry> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tracebacks.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Cluster label → the fingerprints of its entries (with their ids).
fn fingerprints_by_cluster() -> BTreeMap<String, Vec<(String, String)>> {
    let mut by_cluster: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for entry in corpus() {
        assert!(
            entry.source.starts_with("https://"),
            "{}: a source",
            entry.id
        );
        let print = fingerprint(
            &entry.message,
            &entry.stack_trace,
            &GroupingOptions::default(),
        );
        by_cluster
            .entry(entry.cluster)
            .or_default()
            .push((entry.id, print.hash));
    }
    by_cluster
}

#[test]
fn near_misses_stay_apart_and_no_two_clusters_merge() {
    let by_cluster = fingerprints_by_cluster();
    let mut owner: BTreeMap<&str, &str> = BTreeMap::new();
    let mut merged = Vec::new();
    for (cluster, prints) in &by_cluster {
        for (_, hash) in prints {
            if let Some(other) = owner.insert(hash, cluster)
                && other != cluster
            {
                merged.push(format!("{other} and {cluster}"));
            }
        }
    }
    assert!(merged.is_empty(), "merged clusters: {merged:?}");
}
