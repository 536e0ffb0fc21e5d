// The Reports view (#/reports): stored diagnostic reports, newest first, in
// keyset pages — each with its id, when it was made, how many errors it
// holds and its size; Download (the DownloadReport stream gathered into a
// JSON file), Delete (admin role; asked in a dialog first) and New report
// (GenerateReport over every log, the newest 1,000).
import { useState } from "preact/hooks";
import { describeError } from "../api";
import type { ReportInfo } from "../gen/diagnostics/v1/diagnostics_pb";
import type { Route } from "../router";
import { useSession } from "../session";
import { formatAgo, formatBytes, formatCount, formatTime, toDate } from "../ui/format";
import { ConfirmDialog } from "../ui/modal";
import { useNow, usePaged } from "../ui/use-load";
import "../ui/views.css";
import "./reports/reports.css";

const PAGE_SIZE = 50;

export function ReportsView(_: { route: Route }) {
  const session = useSession();
  const { client } = session;
  const reports = usePaged<ReportInfo>(async (token, signal) => {
    const page = await client.listReports({ pageSize: PAGE_SIZE, pageToken: token }, { signal });
    return { items: page.reports, next: page.nextPageToken };
  }, []);
  const [message, setMessage] = useState("");
  const [error, setError] = useState<string>();
  const [downloading, setDownloading] = useState<string | null>(null);
  const [generating, setGenerating] = useState(false);
  const [deleting, setDeleting] = useState<ReportInfo | null>(null);
  const [deleteBusy, setDeleteBusy] = useState(false);
  const [deleteError, setDeleteError] = useState<string>();
  const now = useNow(30_000);
  const canDelete = session.can("DeleteReport");
  const canGenerate = session.can("GenerateReport");

  const download = async (report: ReportInfo) => {
    setDownloading(report.reportId);
    setError(undefined);
    try {
      const chunks: Uint8Array<ArrayBuffer>[] = [];
      let name = report.fileName || `diagnostic-report-${report.reportId}.json`;
      for await (const part of client.downloadReport({ reportId: report.reportId })) {
        if (part.fileName) name = part.fileName;
        chunks.push(new Uint8Array(part.chunk));
      }
      const url = URL.createObjectURL(new Blob(chunks, { type: "application/json" }));
      const link = document.createElement("a");
      link.href = url;
      link.download = name;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      setMessage(`Downloaded ${name}.`);
    } catch (err) {
      setError(`Could not download report ${report.reportId}: ${describeError(err)}`);
    } finally {
      setDownloading(null);
    }
  };

  const remove = async (report: ReportInfo) => {
    setDeleteBusy(true);
    setDeleteError(undefined);
    try {
      await client.deleteReport({ reportId: report.reportId });
      reports.update((items) => items.filter((r) => r.reportId !== report.reportId));
      setDeleting(null);
      setMessage(`Deleted report ${report.reportId}.`);
    } catch (err) {
      setDeleteError(describeError(err));
    } finally {
      setDeleteBusy(false);
    }
  };

  const generate = async () => {
    setGenerating(true);
    setError(undefined);
    try {
      const made = await client.generateReport({});
      const info = made.report;
      if (info) {
        reports.update((items) => [info, ...items.filter((r) => r.reportId !== info.reportId)]);
        setMessage(`Made report ${info.reportId} with ${formatCount(info.errorCount)} errors.`);
      }
    } catch (err) {
      setError(`Could not make a report: ${describeError(err)}`);
    } finally {
      setGenerating(false);
    }
  };

  return (
    <section aria-labelledby="reports-title">
      <div class="view-head">
        <h1 id="reports-title">Diagnostic reports</h1>
        <div class="view-head-actions">
          <button
            type="button"
            onClick={() => void generate()}
            disabled={!canGenerate || generating}
            title={session.whyNot("GenerateReport") || "A report of every log (the newest 1,000); the Logs view makes one of its filters"}
          >
            {generating ? "Making a report…" : "New report"}
          </button>
          <button type="button" onClick={reports.reload} disabled={reports.loading}>
            Refresh
          </button>
        </div>
      </div>
      <p class="view-sub">
        A report is a JSON document of errors with their context, grouped with known fixes. Make one of a filtered view in Logs
        (Generate Report).
      </p>
      {!canDelete && <p class="why-not" id="reports-why">Delete: {session.whyNot("DeleteReport")}</p>}
      <div role="status" class="status-line">
        {message}
      </div>
      {(error || reports.error) && (
        <p class="view-notice bad" role="alert">
          {error ?? `Could not list the reports: ${reports.error}`}
        </p>
      )}
      <div class="view-table-wrap">
        <table class="view-table stack reports-table">
          <caption class="visually-hidden">Diagnostic reports, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Report</th>
              <th scope="col">Created</th>
              <th scope="col" class="num">
                Errors
              </th>
              <th scope="col" class="num">
                Size
              </th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {reports.items.map((r) => (
              <tr key={r.reportId} data-report={r.reportId}>
                <td class="title-cell">
                  <span class="mono report-id">{r.reportId}</span>
                  <div class="cell-meta">{r.fileName}</div>
                </td>
                <td class="nowrap" data-label="Created">
                  <time dateTime={toDate(r.createdAt)?.toISOString()}>{formatTime(r.createdAt)}</time>
                  <div class="cell-meta">{formatAgo(r.createdAt, now)}</div>
                </td>
                <td class="num" data-label="Errors">
                  {formatCount(r.errorCount)}
                </td>
                <td class="num" data-label="Size">
                  {formatBytes(r.sizeBytes)}
                </td>
                <td>
                  <div class="row-actions">
                    <button
                      type="button"
                      class="small"
                      onClick={() => void download(r)}
                      disabled={downloading !== null}
                      aria-label={`Download report ${r.reportId}`}
                    >
                      {downloading === r.reportId ? "Downloading…" : "Download"}
                    </button>
                    <button
                      type="button"
                      class="small danger"
                      disabled={!canDelete}
                      aria-describedby={canDelete ? undefined : "reports-why"}
                      aria-label={`Delete report ${r.reportId}`}
                      onClick={() => {
                        setDeleteError(undefined);
                        setDeleting(r);
                      }}
                    >
                      Delete
                    </button>
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {!reports.loading && !reports.error && reports.items.length === 0 && (
          <p class="view-empty">No reports yet.</p>
        )}
        <div class="view-pager">
          {reports.loading ? (
            <span role="status">Loading reports…</span>
          ) : (
            <span>
              {formatCount(reports.items.length)} report{reports.items.length === 1 ? "" : "s"} shown
            </span>
          )}
          {reports.more && (
            <button type="button" onClick={reports.loadMore} disabled={reports.loading}>
              Load more
            </button>
          )}
        </div>
      </div>
      <ConfirmDialog
        open={deleting !== null}
        title="Delete this report?"
        confirmLabel="Delete report"
        busy={deleteBusy}
        error={deleteError}
        onConfirm={() => deleting && void remove(deleting)}
        onCancel={() => setDeleting(null)}
      >
        <p>
          Report <span class="mono">{deleting?.reportId}</span> ({formatCount(deleting?.errorCount ?? 0n)} errors, made{" "}
          {formatTime(deleting?.createdAt)}) will be deleted for everyone. The logs themselves stay.
        </p>
      </ConfirmDialog>
    </section>
  );
}
