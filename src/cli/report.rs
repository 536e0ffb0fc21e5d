//! `diagd report generate|list|show|download|delete`: diagnostic reports
//! (system information, configuration, recent errors, guidance) made and
//! kept by diagd; a download streams the report into a file, with a
//! progress bar on a terminal.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use tokio::io::AsyncWriteExt;

use super::{
    FilterArgs, ServerArgs, describe, json,
    progress::Progress,
    render::{self, dim},
};
use crate::api::{log_filter_to_proto, pb};

/// `diagd report` flags.
#[derive(Args, Clone, Debug)]
pub struct ReportArgs {
    /// The diagd to ask.
    #[command(flatten)]
    pub server: ServerArgs,
    /// Machine output: the report's info as one JSON object.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub action: ReportAction,
}

/// The report sub-commands.
#[derive(Subcommand, Clone, Debug)]
pub enum ReportAction {
    /// Generate a report from the logs matching the filters.
    Generate {
        /// Which logs the report covers.
        #[command(flatten)]
        filter: FilterArgs,
        /// Most errors included (diagd's default when unset).
        #[arg(long)]
        max_errors: Option<u32>,
    },
    /// List the stored reports, newest first.
    List,
    /// Show one report's info.
    Show {
        /// The report's id.
        id: String,
    },
    /// Download a report (JSON) into a file.
    Download {
        /// The report's id.
        id: String,
        /// File to write; default: the report's own file name, here.
        #[arg(short = 'o', long)]
        output: Option<PathBuf>,
    },
    /// Delete a stored report.
    Delete {
        /// The report's id.
        id: String,
    },
}

/// Runs a report sub-command.
pub async fn run(args: ReportArgs) -> Result<(), String> {
    let mut client = args.server.connect().await?;
    let print_info = |info: &pb::ReportInfo, verb: &str| {
        if args.json {
            println!("{}", json::line(info, "ReportInfo"));
        } else {
            anstream::println!(
                "{verb} {}: {} error{}, {}, created {}  {}",
                info.report_id,
                render::count(info.error_count),
                if info.error_count == 1 { "" } else { "s" },
                render::bytes(info.size_bytes),
                render::time(info.created_at.as_ref()),
                dim(&info.file_name)
            );
        }
    };
    match args.action {
        ReportAction::Generate { filter, max_errors } => {
            let info = client
                .generate_report(pb::GenerateReportRequest {
                    filter: Some(log_filter_to_proto(&filter.to_filter())),
                    max_errors: max_errors.unwrap_or(0),
                })
                .await
                .map_err(|s| describe(&s))?
                .into_inner()
                .report
                .ok_or("diagd answered without the report")?;
            print_info(&info, "Generated report");
            if !args.json {
                anstream::println!(
                    "{}",
                    dim(format!(
                        "Download it with: diagd report download {}",
                        info.report_id
                    ))
                );
            }
        }
        ReportAction::List => {
            let mut page_token = String::new();
            let mut any = false;
            loop {
                let page = client
                    .list_reports(pb::ListReportsRequest {
                        page_size: 100,
                        page_token,
                    })
                    .await
                    .map_err(|s| describe(&s))?
                    .into_inner();
                for info in &page.reports {
                    any = true;
                    print_info(info, "Report");
                }
                if page.next_page_token.is_empty() {
                    break;
                }
                page_token = page.next_page_token;
            }
            if !any && !args.json {
                anstream::println!("{}", dim("No reports yet: diagd report generate"));
            }
        }
        ReportAction::Show { id } => {
            let info = client
                .get_report(pb::GetReportRequest { report_id: id })
                .await
                .map_err(|s| describe(&s))?
                .into_inner()
                .report
                .ok_or("diagd answered without the report")?;
            print_info(&info, "Report");
        }
        ReportAction::Download { id, output } => {
            let info = client
                .get_report(pb::GetReportRequest {
                    report_id: id.clone(),
                })
                .await
                .map_err(|s| describe(&s))?
                .into_inner()
                .report
                .ok_or("diagd answered without the report")?;
            let path = output.unwrap_or_else(|| PathBuf::from(&info.file_name));
            let written = download(&mut client, &id, &path, info.size_bytes).await?;
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({ "path": path, "bytes": written, "reportId": id })
                );
            } else {
                anstream::println!(
                    "Downloaded report {id} ({}) to {}",
                    render::bytes(written),
                    path.display()
                );
            }
        }
        ReportAction::Delete { id } => {
            client
                .delete_report(pb::DeleteReportRequest {
                    report_id: id.clone(),
                })
                .await
                .map_err(|s| describe(&s))?;
            if args.json {
                println!("{}", serde_json::json!({ "deleted": id }));
            } else {
                anstream::println!("Deleted report {id}");
            }
        }
    }
    Ok(())
}

/// Streams report `id` into `path` (through a temporary file, renamed at the
/// end); returns the bytes written.
async fn download(
    client: &mut super::Client,
    id: &str,
    path: &std::path::Path,
    size: u64,
) -> Result<u64, String> {
    let mut stream = client
        .download_report(pb::DownloadReportRequest {
            report_id: id.to_string(),
        })
        .await
        .map_err(|s| describe(&s))?
        .into_inner();
    let partial = path.with_file_name(format!(
        ".{}.partial",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "report".into())
    ));
    let progress = Progress::bytes(size, "report");
    let result = async {
        let mut file = tokio::io::BufWriter::new(
            tokio::fs::File::create(&partial)
                .await
                .map_err(|e| format!("creating {}: {e}", partial.display()))?,
        );
        let mut written = 0u64;
        while let Some(message) = stream.message().await.map_err(|s| describe(&s))? {
            file.write_all(&message.chunk)
                .await
                .map_err(|e| format!("writing {}: {e}", partial.display()))?;
            written += message.chunk.len() as u64;
            progress.advance(message.chunk.len() as u64);
        }
        file.flush()
            .await
            .map_err(|e| format!("writing {}: {e}", partial.display()))?;
        tokio::fs::rename(&partial, path)
            .await
            .map_err(|e| format!("renaming to {}: {e}", path.display()))?;
        Ok(written)
    }
    .await;
    progress.finish();
    if result.is_err() {
        let _ = tokio::fs::remove_file(&partial).await;
    }
    result
}
