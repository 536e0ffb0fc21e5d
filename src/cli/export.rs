//! `diagd export`: streams an export from diagd into a file named with its
//! timestamp, then says where it is and how many logs it holds.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use tokio::io::AsyncWriteExt;

use super::{FilterArgs, ServerArgs, describe, progress::Progress};
use crate::api::pb;

/// `diagd export` flags.
#[derive(Args, Clone, Debug)]
pub struct ExportArgs {
    /// The diagd to export from.
    #[command(flatten)]
    pub server: ServerArgs,
    /// Which logs to export.
    #[command(flatten)]
    pub filter: FilterArgs,
    /// File format.
    #[arg(long, value_enum, default_value_t = FormatArg::Json)]
    pub format: FormatArg,
    /// Directory to write the file into.
    #[arg(short = 'o', long = "output-dir", default_value = ".")]
    pub output_dir: PathBuf,
}

/// Export file format.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormatArg {
    /// One JSON array.
    Json,
    /// One JSON object per line.
    Ndjson,
}

/// Runs the export; returns the confirmation line.
pub async fn run(args: ExportArgs) -> Result<String, String> {
    let mut client = args.server.connect().await?;
    let request = pb::ExportLogsRequest {
        filter: Some(crate::api::log_filter_to_proto(&args.filter.to_filter())),
        format: match args.format {
            FormatArg::Json => pb::ExportFormat::Json,
            FormatArg::Ndjson => pb::ExportFormat::Ndjson,
        } as i32,
    };
    let mut stream = client
        .export_logs(request)
        .await
        .map_err(|s| describe(&s))?
        .into_inner();
    let header = match stream.message().await.map_err(|s| describe(&s))? {
        Some(pb::ExportLogsResponse {
            part: Some(pb::export_logs_response::Part::Header(header)),
        }) => header,
        other => return Err(format!("diagd sent no export header (got {other:?})")),
    };
    if header.file_name.contains('/') || header.file_name.starts_with('.') {
        return Err(format!(
            "refusing the file name {:?} sent by diagd",
            header.file_name
        ));
    }
    tokio::fs::create_dir_all(&args.output_dir)
        .await
        .map_err(|e| format!("creating {}: {e}", args.output_dir.display()))?;
    let path = args.output_dir.join(&header.file_name);
    let partial = args
        .output_dir
        .join(format!(".{}.partial", header.file_name));
    // Each exported log is one line of the file (JSON array or NDJSON; the
    // array's brackets add two more, so the count is capped at the total).
    let progress = Progress::items(header.total_count, "exporting logs");
    let mut lines = 0u64;
    let result = async {
        let mut file = tokio::io::BufWriter::new(
            tokio::fs::File::create(&partial)
                .await
                .map_err(|e| format!("creating {}: {e}", partial.display()))?,
        );
        while let Some(message) = stream.message().await.map_err(|s| describe(&s))? {
            if let Some(pb::export_logs_response::Part::Chunk(chunk)) = message.part {
                lines += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
                progress.set(lines.min(header.total_count));
                file.write_all(&chunk)
                    .await
                    .map_err(|e| format!("writing {}: {e}", partial.display()))?;
            }
        }
        file.flush()
            .await
            .map_err(|e| format!("writing {}: {e}", partial.display()))?;
        tokio::fs::rename(&partial, &path)
            .await
            .map_err(|e| format!("renaming to {}: {e}", path.display()))
    }
    .await;
    progress.finish();
    if result.is_err() {
        let _ = tokio::fs::remove_file(&partial).await;
    }
    result?;
    Ok(format!(
        "Exported {} log{} to {}",
        header.total_count,
        if header.total_count == 1 { "" } else { "s" },
        path.display()
    ))
}
