// Pieces the Runs list and a run's page share: a run's member counts in
// words, steps, and "12 s ago" kept moving.
import type { Run } from "../../gen/diagnostics/v1/diagnostics_pb";
import { formatAgo, formatCount, formatTime, toDate } from "../../ui/format";
import type { Timestamp } from "@bufbuild/protobuf/wkt";

/** "2 alive · 1 stuck · 1 finished" (states with members only). */
export function memberBreakdown(run: Run): string {
  const parts: [number, string][] = [
    [run.alive, "alive"],
    [run.stuck, "stuck"],
    [run.lost, "lost"],
    [run.finished, "finished"],
    [run.failed, "failed"],
  ];
  return (
    parts
      .filter(([n]) => n > 0)
      .map(([n, name]) => `${formatCount(n)} ${name}`)
      .join(" · ") || "no members"
  );
}

export function formatStep(step: bigint | undefined): string {
  return step === undefined ? "—" : formatCount(step);
}

/** "12,340" or "12,339 – 12,340" when members are at different steps. */
export function stepRange(run: Run): string {
  if (run.maxStep === undefined) return "—";
  if (run.minStep === undefined || run.minStep === run.maxStep) return formatStep(run.maxStep);
  return `${formatStep(run.minStep)} – ${formatStep(run.maxStep)}`;
}

/** A relative time with the absolute one as its tooltip and datetime. */
export function Ago({ ts, now }: { ts: Timestamp | undefined; now: number }) {
  return (
    <time dateTime={toDate(ts)?.toISOString()} title={formatTime(ts)}>
      {formatAgo(ts, now)}
    </time>
  );
}
