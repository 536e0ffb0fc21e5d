// The stats dashboard: Total, Critical (red), High (orange), Medium
// (yellow), Low (blue) with the seed's icons — each a button that filters to
// its severity — and a histogram of logs over time, stacked per severity
// (GetStats' buckets), drawn as inline SVG.
import type { GetStatsResponse, Severity, TimeBucket } from "../gen/diagnostics/v1/diagnostics_pb";
import { BucketWidth } from "../gen/diagnostics/v1/diagnostics_pb";
import { formatCount, formatTime, toDate } from "../ui/format";
import { SEVERITIES, SeverityIcon, severityLabel, severityName } from "../ui/severity";

export function Dashboard({
  stats,
  selected,
  onToggle,
  width,
}: {
  stats: GetStatsResponse | null;
  selected: Severity[];
  onToggle: (severity: Severity) => void;
  width: BucketWidth;
}) {
  const count = (s: Severity) => stats?.bySeverity.find((c) => c.severity === s)?.count ?? 0n;
  return (
    <section class="dashboard" aria-label="Stats">
      <ul class="stat-cards">
        <li class="stat-card total">
          <span class="stat-label">Total logs</span>
          <span class="stat-value" data-testid="stat-total">
            {stats ? formatCount(stats.total) : "…"}
          </span>
        </li>
        {SEVERITIES.map((s) => (
          <li key={s} class={`stat-card sev-${severityName(s)}`}>
            <button
              type="button"
              class="stat-button"
              aria-pressed={selected.includes(s)}
              title={`Show only ${severityLabel(s).toLowerCase()} logs (again to undo)`}
              onClick={() => onToggle(s)}
            >
              <span class="stat-label">
                <SeverityIcon severity={s} /> {severityLabel(s)}
              </span>
              <span class="stat-value" data-testid={`stat-${severityName(s)}`}>
                {stats ? formatCount(count(s)) : "…"}
              </span>
            </button>
          </li>
        ))}
      </ul>
      {stats && stats.buckets.length > 0 && <Histogram buckets={stats.buckets} width={width} />}
    </section>
  );
}

const ORDER: Severity[] = [...SEVERITIES].reverse(); // low at the bottom, critical on top

function Histogram({ buckets, width }: { buckets: TimeBucket[]; width: BucketWidth }) {
  const max = Math.max(1, ...buckets.map((b) => Number(b.total)));
  const W = 1000;
  const H = 90;
  const bar = W / buckets.length;
  const unit = width === BucketWidth.MINUTE ? "minute" : width === BucketWidth.DAY ? "day" : "hour";
  const total = buckets.reduce((n, b) => n + Number(b.total), 0);
  const first = toDate(buckets[0].start);
  const last = toDate(buckets[buckets.length - 1].start);
  return (
    <figure class="histogram">
      <svg
        viewBox={`0 0 ${W} ${H}`}
        preserveAspectRatio="none"
        role="img"
        aria-label={`Logs per ${unit}: ${formatCount(total)} in ${buckets.length} ${unit}s, at most ${formatCount(max)} in one`}
      >
        {buckets.map((b, i) => {
          let y = H;
          return (
            <g key={i}>
              <title>{`${formatTime(b.start)}: ${formatCount(b.total)} logs`}</title>
              <rect x={i * bar} y={0} width={bar} height={H} class="hist-hit" />
              {ORDER.map((s) => {
                const n = Number(b.bySeverity.find((c) => c.severity === s)?.count ?? 0n);
                if (!n) return null;
                const h = (n / max) * (H - 2);
                y -= h;
                return (
                  <rect
                    key={s}
                    x={i * bar + bar * 0.1}
                    y={y}
                    width={Math.max(1, bar * 0.8)}
                    height={h}
                    class={`hist-bar sev-${severityName(s)}`}
                  />
                );
              })}
            </g>
          );
        })}
      </svg>
      <figcaption class="muted">
        <span>{first ? formatTime(first) : ""}</span>
        <span>Logs per {unit}, by severity</span>
        <span>{last ? formatTime(last) : ""}</span>
      </figcaption>
    </figure>
  );
}
