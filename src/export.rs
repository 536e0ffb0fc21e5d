//! Export files: the JSON-array and NDJSON encodings of logs, their
//! unique timestamped names, and a sink that writes an export to a file
//! atomically and durably (a hidden `.partial` file, linked into place under
//! its final name once complete — never over another file — with the file
//! and its directory synced).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use tokio::io::AsyncWriteExt;

use crate::{domain::LogEntry, store::ExportSink};

/// The file format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExportFormat {
    /// One JSON array.
    #[default]
    Json,
    /// One JSON object per line.
    Ndjson,
}

impl ExportFormat {
    /// The file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Json => "json",
            ExportFormat::Ndjson => "ndjson",
        }
    }
}

/// `diagd-logs-YYYYMMDDTHHMMSS.mmmZ-<12 random hex digits>.json` (or
/// `.ndjson`): the time, to the millisecond, for people and sorting, and a
/// random suffix so that two exports never share a name, however close in
/// time (two clears in the same second used to write the same file).
pub fn file_name(format: ExportFormat, at: DateTime<Utc>) -> String {
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "diagd-logs-{}-{}.{}",
        at.format("%Y%m%dT%H%M%S%.3fZ"),
        &random[..12],
        format.extension()
    )
}

/// Turns logs into the bytes of an export, piece by piece.
#[derive(Debug)]
pub struct Encoder {
    /// The format being written.
    format: ExportFormat,
    /// Logs written so far (the JSON array needs commas between them).
    written: u64,
}

impl Encoder {
    /// An encoder for `format`.
    pub fn new(format: ExportFormat) -> Self {
        Encoder { format, written: 0 }
    }

    /// The bytes that open the file.
    pub fn begin(&self) -> &'static [u8] {
        match self.format {
            ExportFormat::Json => b"[",
            ExportFormat::Ndjson => b"",
        }
    }

    /// Appends one log to `out`.
    pub fn push(&mut self, log: &LogEntry, out: &mut Vec<u8>) -> Result<(), String> {
        match self.format {
            ExportFormat::Json => {
                out.extend_from_slice(if self.written == 0 { b"\n" } else { b",\n" });
                serde_json::to_writer(&mut *out, log).map_err(|e| e.to_string())?;
            }
            ExportFormat::Ndjson => {
                serde_json::to_writer(&mut *out, log).map_err(|e| e.to_string())?;
                out.push(b'\n');
            }
        }
        self.written += 1;
        Ok(())
    }

    /// The bytes that close the file.
    pub fn end(&self) -> &'static [u8] {
        match self.format {
            ExportFormat::Json if self.written == 0 => b"]\n",
            ExportFormat::Json => b"\n]\n",
            ExportFormat::Ndjson => b"",
        }
    }
}

/// Writes an export into a directory under a unique timestamped name.
pub struct FileSink {
    /// The directory the file goes in.
    dir: PathBuf,
    /// Where the finished file goes.
    path: PathBuf,
    /// The file being written (`.<name>.partial`, beside it) until finished.
    partial: PathBuf,
    /// The open partial file.
    file: Option<tokio::io::BufWriter<tokio::fs::File>>,
    /// The format encoder.
    encoder: Encoder,
    /// Reused buffer for encoding.
    buffer: Vec<u8>,
    /// Set once the file is complete and in place.
    finished: bool,
}

impl FileSink {
    /// A sink writing `dir/<file_name(format, at)>`; the directory is
    /// created when missing. The partial file is created exclusively
    /// (`create_new`): it never truncates another export's.
    pub async fn create(
        dir: &Path,
        format: ExportFormat,
        at: DateTime<Utc>,
    ) -> Result<Self, String> {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| format!("creating export directory {}: {e}", dir.display()))?;
        let name = file_name(format, at);
        let path = dir.join(&name);
        let partial = dir.join(format!(".{name}.partial"));
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&partial)
            .await
            .map_err(|e| format!("creating {}: {e}", partial.display()))?;
        Ok(FileSink {
            dir: dir.to_path_buf(),
            path,
            partial,
            file: Some(tokio::io::BufWriter::new(file)),
            encoder: Encoder::new(format),
            buffer: Vec::new(),
            finished: false,
        })
    }

    /// The path of the finished file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the finished file: for an export whose logs were, after all,
    /// not deleted (the transaction was rolled back), so that no export
    /// holds logs that are still stored.
    pub async fn discard(&mut self) {
        if self.finished {
            let _ = tokio::fs::remove_file(&self.path).await;
            self.finished = false;
        }
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), String> {
        let file = self.file.as_mut().ok_or("export file already closed")?;
        file.write_all(bytes)
            .await
            .map_err(|e| format!("writing {}: {e}", self.partial.display()))
    }
}

impl ExportSink for FileSink {
    async fn begin(&mut self, _total: u64) -> Result<(), String> {
        let opening = self.encoder.begin();
        self.write(opening).await
    }

    async fn batch(&mut self, logs: Vec<LogEntry>) -> Result<(), String> {
        let mut buffer = std::mem::take(&mut self.buffer);
        buffer.clear();
        for log in &logs {
            self.encoder.push(log, &mut buffer)?;
        }
        let result = self.write(&buffer).await;
        self.buffer = buffer;
        result
    }

    /// Syncs the partial file, links it under its final name (a hard link:
    /// unlike a rename it fails rather than replace a file already there),
    /// removes the partial name and syncs the directory, so that the file
    /// is durable once this returns.
    async fn finish(&mut self) -> Result<(), String> {
        let closing = self.encoder.end();
        self.write(closing).await?;
        let mut file = self.file.take().ok_or("export file already closed")?;
        let context = |e: std::io::Error| format!("finishing {}: {e}", self.partial.display());
        file.flush().await.map_err(context)?;
        file.get_mut().sync_all().await.map_err(context)?;
        drop(file);
        // A link never replaces an existing file; where the file system has
        // no hard links, a rename (the name is unique: time and a random
        // part) does the same.
        match tokio::fs::hard_link(&self.partial, &self.path).await {
            Ok(()) => {
                self.finished = true;
                tokio::fs::remove_file(&self.partial)
                    .await
                    .map_err(context)?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(format!("moving the export to {}: {e}", self.path.display()));
            }
            Err(_) => {
                tokio::fs::rename(&self.partial, &self.path)
                    .await
                    .map_err(|e| format!("moving the export to {}: {e}", self.path.display()))?;
                self.finished = true;
            }
        }
        let sync_dir = async { tokio::fs::File::open(&self.dir).await?.sync_all().await };
        sync_dir
            .await
            .map_err(|e| format!("syncing export directory {}: {e}", self.dir.display()))
    }
}

impl Drop for FileSink {
    fn drop(&mut self) {
        // The partial name goes whatever happened; the finished file stays
        // unless discarded.
        let _ = std::fs::remove_file(&self.partial);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_a_utc_timestamp_and_differ_at_the_same_instant() {
        let at: DateTime<Utc> = "2026-11-25T14:03:09.042Z".parse().unwrap();
        let json = file_name(ExportFormat::Json, at);
        let suffix = json
            .strip_prefix("diagd-logs-20261125T140309.042Z-")
            .and_then(|rest| rest.strip_suffix(".json"))
            .unwrap_or_else(|| panic!("{json}"));
        assert!(
            suffix.len() == 12 && suffix.chars().all(|c| c.is_ascii_hexdigit()),
            "{json}"
        );
        assert!(
            file_name(ExportFormat::Ndjson, at).starts_with("diagd-logs-20261125T140309.042Z-")
        );
        assert!(file_name(ExportFormat::Ndjson, at).ends_with(".ndjson"));
        assert_ne!(json, file_name(ExportFormat::Json, at));
    }

    #[test]
    fn an_empty_json_export_is_an_empty_array() {
        let encoder = Encoder::new(ExportFormat::Json);
        let text = [encoder.begin(), encoder.end()].concat();
        assert_eq!(
            serde_json::from_slice::<Vec<serde_json::Value>>(&text)
                .unwrap()
                .len(),
            0
        );
    }
}
