//! Export files: the JSON-array and NDJSON encodings of logs, their
//! timestamped names, and a sink that writes an export to a file atomically
//! (a `.partial` file renamed once complete and synced).

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

/// `diagd-logs-YYYYMMDDTHHMMSSZ.json` (or `.ndjson`).
pub fn file_name(format: ExportFormat, at: DateTime<Utc>) -> String {
    format!(
        "diagd-logs-{}.{}",
        at.format("%Y%m%dT%H%M%SZ"),
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

/// Writes an export into a directory under its timestamped name.
pub struct FileSink {
    /// Where the finished file goes.
    path: PathBuf,
    /// The file being written (`<path>.partial`) until finished.
    partial: PathBuf,
    /// The open partial file.
    file: Option<tokio::io::BufWriter<tokio::fs::File>>,
    /// The format encoder.
    encoder: Encoder,
    /// Reused buffer for encoding.
    buffer: Vec<u8>,
    /// Set once the file is complete and renamed.
    finished: bool,
}

impl FileSink {
    /// A sink writing `dir/<file_name(format, at)>`; the directory is
    /// created when missing.
    pub async fn create(
        dir: &Path,
        format: ExportFormat,
        at: DateTime<Utc>,
    ) -> Result<Self, String> {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| format!("creating export directory {}: {e}", dir.display()))?;
        let path = dir.join(file_name(format, at));
        let partial = path.with_extension(format!("{}.partial", format.extension()));
        let file = tokio::fs::File::create(&partial)
            .await
            .map_err(|e| format!("creating {}: {e}", partial.display()))?;
        Ok(FileSink {
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

    async fn finish(&mut self) -> Result<(), String> {
        let closing = self.encoder.end();
        self.write(closing).await?;
        let mut file = self.file.take().ok_or("export file already closed")?;
        let context = |e: std::io::Error| format!("finishing {}: {e}", self.partial.display());
        file.flush().await.map_err(context)?;
        file.get_mut().sync_all().await.map_err(context)?;
        tokio::fs::rename(&self.partial, &self.path)
            .await
            .map_err(context)?;
        self.finished = true;
        Ok(())
    }
}

impl Drop for FileSink {
    fn drop(&mut self) {
        if !self.finished {
            let _ = std::fs::remove_file(&self.partial);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_a_utc_timestamp() {
        let at: DateTime<Utc> = "2026-11-25T14:03:09Z".parse().unwrap();
        assert_eq!(
            file_name(ExportFormat::Json, at),
            "diagd-logs-20261125T140309Z.json"
        );
        assert_eq!(
            file_name(ExportFormat::Ndjson, at),
            "diagd-logs-20261125T140309Z.ndjson"
        );
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
