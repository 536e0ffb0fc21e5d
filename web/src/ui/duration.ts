// Durations as people read and write them: "45 s", "10 min", "2 h", "7 d"
// (and "1 h 30 min"), from google.protobuf.Duration or seconds; and the
// seconds of a number and a unit typed into a form.
import type { Duration } from "@bufbuild/protobuf/wkt";

/** "45 s", "10 min", "1 h 30 min", "7 d"; "—" when absent. */
export function formatSeconds(total: number | undefined): string {
  if (total === undefined || !Number.isFinite(total)) return "—";
  const s = Math.round(total);
  if (s < 60) return `${s} s`;
  const parts: string[] = [];
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  if (d) parts.push(`${d} d`);
  if (h) parts.push(`${h} h`);
  if (m) parts.push(`${m} min`);
  if (rest && !d) parts.push(`${rest} s`);
  return parts.slice(0, 2).join(" ");
}

export function durationSeconds(d: Duration | undefined): number | undefined {
  return d ? Number(d.seconds) + d.nanos / 1e9 : undefined;
}

export function formatDuration(d: Duration | undefined): string {
  return formatSeconds(durationSeconds(d));
}

export const UNITS: readonly { unit: string; label: string; seconds: number }[] = [
  { unit: "s", label: "seconds", seconds: 1 },
  { unit: "min", label: "minutes", seconds: 60 },
  { unit: "h", label: "hours", seconds: 3600 },
  { unit: "d", label: "days", seconds: 86400 },
];

/** The largest unit that divides `seconds` evenly: 600 → [10, "min"]. */
export function splitSeconds(seconds: number): [number, string] {
  for (const u of [...UNITS].reverse()) {
    if (seconds >= u.seconds && seconds % u.seconds === 0) return [seconds / u.seconds, u.unit];
  }
  return [seconds, "s"];
}

export function unitSeconds(unit: string): number {
  return UNITS.find((u) => u.unit === unit)?.seconds ?? 1;
}
