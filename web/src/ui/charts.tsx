// Small inline SVG charts of counts over time: Sparkline (a row's trend in
// a table, like the CLI's ▁▂▃ column) and BarChart (a group's histogram,
// with its first and last bucket's dates). Each is one image for screen
// readers, labelled with what it shows; every bar has a tooltip.
import { formatCount, formatTime } from "./format";

export interface Bucket {
  start: Date;
  count: number;
}

/** A tiny bar chart; `label` says what it is ("events per hour, last 24 hours"). */
export function Sparkline({ counts, label, width = 96, height = 22 }: { counts: number[]; label: string; width?: number; height?: number }) {
  const max = Math.max(0, ...counts);
  const total = counts.reduce((a, b) => a + b, 0);
  const slot = counts.length ? width / counts.length : width;
  return (
    <svg
      class="sparkline"
      width={width}
      height={height}
      viewBox={`0 0 ${width} ${height}`}
      role="img"
      aria-label={`${label}: ${formatCount(total)} in all${total ? `, at most ${formatCount(max)} in one` : ""}`}
    >
      <line x1="0" y1={height - 0.5} x2={width} y2={height - 0.5} class="sparkline-base" />
      {counts.map((n, i) => {
        const h = n === 0 || max === 0 ? 0 : Math.max(2, Math.round((n / max) * (height - 2)));
        return h ? <rect key={i} x={i * slot + 0.5} y={height - h} width={Math.max(1, slot - 1)} height={h} /> : null;
      })}
    </svg>
  );
}

/** Bars per bucket with the range's dates beneath; hourly buckets show times. */
export function BarChart({ buckets, label, hourly }: { buckets: Bucket[]; label: string; hourly: boolean }) {
  const width = 600;
  const height = 120;
  const max = Math.max(0, ...buckets.map((b) => b.count));
  const total = buckets.reduce((a, b) => a + b.count, 0);
  const slot = buckets.length ? width / buckets.length : width;
  const peak = buckets.find((b) => b.count === max && max > 0);
  const when = (d: Date) =>
    hourly
      ? d.toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" })
      : d.toLocaleDateString(undefined, { month: "short", day: "numeric" });
  return (
    <figure class="bar-chart">
      <svg
        viewBox={`0 0 ${width} ${height}`}
        preserveAspectRatio="none"
        role="img"
        aria-label={`${label}: ${formatCount(total)} in all${peak ? `; most (${formatCount(max)}) ${hourly ? "in the hour of" : "on"} ${when(peak.start)}` : ""}`}
      >
        <line x1="0" y1={height - 0.5} x2={width} y2={height - 0.5} class="bar-chart-base" />
        {buckets.map((b, i) => {
          const h = b.count === 0 || max === 0 ? 0 : Math.max(2, (b.count / max) * (height - 4));
          return (
            <g key={i}>
              <rect x={i * slot} y={0} width={slot} height={height} class="bar-chart-hit">
                <title>{`${formatTime(b.start)}: ${formatCount(b.count)}`}</title>
              </rect>
              {h > 0 && <rect x={i * slot + slot * 0.1} y={height - h} width={slot * 0.8} height={h} class="bar-chart-bar" />}
            </g>
          );
        })}
      </svg>
      <figcaption>
        <span>{buckets.length ? when(buckets[0].start) : ""}</span>
        <span>
          {formatCount(total)} in all{max ? ` · peak ${formatCount(max)}` : ""}
        </span>
        <span>{buckets.length ? when(buckets[buckets.length - 1].start) : ""}</span>
      </figcaption>
    </figure>
  );
}
