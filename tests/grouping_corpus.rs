//! The fingerprint rules (issue #13) against real tracebacks that users
//! posted to public issue trackers (`tests/data/tracebacks.json`, each with
//! its source, in clusters of one root error): no two clusters ever share a
//! fingerprint — in particular the near misses, the same exception type
//! from the same lines with another cause, stay apart.
//!
//! Also asserted: entries of one cluster from the *same project* (the id's
//! prefix, e.g. `magicclothing-11` and `magicclothing-19`: two entry scripts
//! loading one corrupt checkpoint) share one fingerprint; and every entry
//! keeps its fingerprint when it is moved to another machine (other path
//! prefixes) and another version (other line numbers).
//!
//! Not asserted: that the same error from *different* projects groups
//! together. Their in-app frames differ, and diagd groups per fleet, where
//! the code is one project (see `domain::fingerprint`).

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

#[test]
fn entries_of_one_cluster_from_one_project_share_a_fingerprint() {
    let mut by_project: BTreeMap<(String, String), Vec<(String, String)>> = BTreeMap::new();
    for (cluster, prints) in fingerprints_by_cluster() {
        for (id, hash) in prints {
            let project = id
                .rsplit_once('-')
                .map_or(id.as_str(), |(p, _)| p)
                .to_string();
            by_project
                .entry((cluster.clone(), project))
                .or_default()
                .push((id, hash));
        }
    }
    let mut checked = 0;
    for ((cluster, project), prints) in &by_project {
        if prints.len() < 2 {
            continue;
        }
        checked += 1;
        assert!(
            prints.iter().all(|(_, hash)| *hash == prints[0].1),
            "{cluster}/{project} split: {prints:?}"
        );
    }
    assert!(checked >= 1, "the corpus has a same-project pair");
}

#[test]
fn every_entry_keeps_its_fingerprint_on_another_machine_and_version() {
    let line_number = regex::Regex::new(r"line (\d+)").unwrap();
    let posix_file = regex::Regex::new(r#"File "/"#).unwrap();
    for entry in corpus() {
        let options = GroupingOptions::default();
        let original = fingerprint(&entry.message, &entry.stack_trace, &options);
        let moved = posix_file.replace_all(&entry.stack_trace, r#"File "/mnt/elsewhere/"#);
        let moved = line_number.replace_all(&moved, |c: &regex::Captures| {
            format!("line {}", c[1].parse::<u64>().unwrap() + 17)
        });
        let again = fingerprint(&entry.message, &moved, &options);
        assert_eq!(original.hash, again.hash, "{}", entry.id);
    }
}
