//! `diagd tail`: follows new logs live (after an optional backfill of the
//! newest ones), printing each as it is committed and saying plainly when
//! logs were dropped or missed, when diagd lost or regained its database,
//! and when logs were cleared. Ctrl-C ends it cleanly.

use clap::Args;

use super::{
    FilterArgs, ServerArgs, describe, json,
    render::{self, dim, paint},
};
use crate::api::{log_filter_to_proto, pb};

/// `diagd tail` flags.
#[derive(Args, Clone, Debug)]
pub struct TailArgs {
    /// The diagd to follow.
    #[command(flatten)]
    pub server: ServerArgs,
    /// Which logs.
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Only logs matching this search query (words and "phrases").
    #[arg(long)]
    pub query: Option<String>,
    /// Newest logs to show before following (at most 10000).
    #[arg(short = 'n', long, default_value_t = 10)]
    pub backfill: u32,
    /// Continue after this cursor (printed with each event in --json
    /// output) instead of backfilling: nothing in between is missed.
    #[arg(long)]
    pub resume: Option<String>,
    /// One JSON object per event (logs and notices), with its cursor.
    #[arg(long)]
    pub json: bool,
}

/// Follows until Ctrl-C, or until diagd ends the stream.
pub async fn tail(args: TailArgs) -> Result<(), String> {
    let mut client = args.server.connect().await?;
    let mut stream = client
        .subscribe_logs(pb::SubscribeLogsRequest {
            filter: Some(log_filter_to_proto(&args.filter.to_filter())),
            backfill: if args.resume.is_some() {
                0
            } else {
                args.backfill
            },
            query: args.query.clone().unwrap_or_default(),
            resume_cursor: args.resume.clone().unwrap_or_default(),
        })
        .await
        .map_err(|s| describe(&s))?
        .into_inner();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let next = tokio::select! {
            next = stream.message() => next,
            _ = &mut ctrl_c => return Ok(()),
        };
        let Some(event) = next.map_err(|s| describe(&s))? else {
            return Err("diagd ended the live tail (is it shutting down?)".into());
        };
        if args.json {
            if !matches!(
                event.event,
                Some(pb::subscribe_logs_response::Event::Heartbeat(_))
            ) {
                println!("{}", json::line(&event, "SubscribeLogsResponse"));
            }
            continue;
        }
        match event.event {
            Some(pb::subscribe_logs_response::Event::Log(log)) => {
                anstream::println!("{}", render::log_line(&log));
            }
            Some(pb::subscribe_logs_response::Event::Notice(notice)) => {
                anstream::println!("{}", notice_line(&notice));
            }
            Some(pb::subscribe_logs_response::Event::Heartbeat(_)) | None => {}
        }
    }
}

/// A notice as one line: warnings in yellow, the rest dimmed.
fn notice_line(notice: &pb::SubscriptionNotice) -> String {
    let warning = anstyle::Style::new()
        .fg_color(Some(anstyle::AnsiColor::Yellow.into()))
        .bold();
    match notice.kind() {
        // diagd's sentence already carries the count.
        pb::NoticeKind::Dropped | pb::NoticeKind::Missed => {
            paint(warning, format!("-- {} --", notice.message))
        }
        pb::NoticeKind::DatabaseUnavailable | pb::NoticeKind::LogsCleared => {
            paint(warning, format!("-- {} --", notice.message))
        }
        pb::NoticeKind::Live => dim(format!("-- {} (Ctrl-C to stop) --", notice.message)),
        pb::NoticeKind::DatabaseRestored | pb::NoticeKind::Unspecified => {
            dim(format!("-- {} --", notice.message))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_say_how_many_logs_were_dropped_or_missed() {
        let plain =
            |n: &pb::SubscriptionNotice| anstream::adapter::strip_str(&notice_line(n)).to_string();
        let dropped = pb::SubscriptionNotice {
            message: "1234 logs were dropped because this subscriber fell behind".into(),
            count: 1234,
            kind: pb::NoticeKind::Dropped as i32,
        };
        assert_eq!(
            plain(&dropped),
            "-- 1234 logs were dropped because this subscriber fell behind --"
        );
        let missed = pb::SubscriptionNotice {
            message: "12 logs arrived while you were away, more than the 10000 replayed; the newest follow".into(),
            count: 12,
            kind: pb::NoticeKind::Missed as i32,
        };
        assert!(plain(&missed).starts_with("-- 12 logs arrived while you were away"));
        // Warnings are coloured (yellow) when colour is on.
        assert!(notice_line(&dropped).contains("\u{1b}[33m"));
        assert!(notice_line(&missed).contains("\u{1b}[33m"));
    }
}
