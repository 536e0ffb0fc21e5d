// Formatting shared by the views: times (absolute in the reader's time zone,
// and relative "3 min ago"), byte sizes, counts, and protobuf Timestamps.
import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";

export function toDate(ts: Timestamp | undefined): Date | undefined {
  return ts ? timestampDate(ts) : undefined;
}

const absolute = new Intl.DateTimeFormat(undefined, {
  year: "numeric",
  month: "short",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
});

/** "Dec 01, 2026, 09:45:12" in the reader's locale and time zone; "—" when unset. */
export function formatTime(ts: Timestamp | Date | undefined): string {
  const d = ts instanceof Date ? ts : toDate(ts);
  return d ? absolute.format(d) : "—";
}

/** "just now", "42 s ago", "5 min ago", "3 h ago", "2 d ago". */
export function formatAgo(ts: Timestamp | Date | undefined, now: number = Date.now()): string {
  const d = ts instanceof Date ? ts : toDate(ts);
  if (!d) return "—";
  const s = Math.round((now - d.getTime()) / 1000);
  if (s < 5) return "just now";
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/** "512 B", "1.5 KiB", "2.00 GiB". */
export function formatBytes(n: number | bigint): string {
  let v = Number(n);
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

/** "12,345". */
export function formatCount(n: number | bigint): string {
  return Number(n).toLocaleString();
}
