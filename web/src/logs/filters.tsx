// The filter panel: severity, error type, time range (relative, or custom
// from–to), host, run and group. Every change applies at once (text fields
// when they are left or Enter is pressed) and goes into the URL.
import type { ErrorType, Severity } from "../gen/diagnostics/v1/diagnostics_pb";
import { ERROR_TYPES, SEVERITIES, SeverityIcon, errorTypeLabel, severityLabel } from "../ui/severity";
import { RANGES, type LogQuery } from "./query";

function toLocalInput(d: Date | undefined): string {
  if (!d) return "";
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function FiltersPanel({ query, onChange }: { query: LogQuery; onChange: (changes: Partial<LogQuery>) => void }) {
  const toggle = <T,>(list: T[], item: T) => (list.includes(item) ? list.filter((x) => x !== item) : [...list, item]);
  const text = (key: "host" | "run" | "group", label: string, hint: string) => (
    <div class="field">
      <label for={`filter-${key}`}>{label}</label>
      <input
        id={`filter-${key}`}
        type="text"
        inputMode={key === "group" ? "numeric" : undefined}
        placeholder={hint}
        defaultValue={query[key]}
        key={query[key]}
        onChange={(e) => onChange({ [key]: (e.target as HTMLInputElement).value.trim() })}
      />
    </div>
  );
  return (
    <section id="filters-panel" class="filters-panel" aria-label="Filters">
      <fieldset>
        <legend>Severity</legend>
        {SEVERITIES.map((s: Severity) => (
          <label key={s} class="checkbox">
            <input type="checkbox" checked={query.severities.includes(s)} onChange={() => onChange({ severities: toggle(query.severities, s) })} />
            <SeverityIcon severity={s} size={14} /> {severityLabel(s)}
          </label>
        ))}
      </fieldset>
      <fieldset>
        <legend>Error type</legend>
        {ERROR_TYPES.map((t: ErrorType) => (
          <label key={t} class="checkbox">
            <input type="checkbox" checked={query.types.includes(t)} onChange={() => onChange({ types: toggle(query.types, t) })} />
            {errorTypeLabel(t)}
          </label>
        ))}
      </fieldset>
      <fieldset>
        <legend>Time range</legend>
        <label for="filter-range" class="visually-hidden">
          Time range
        </label>
        <select
          id="filter-range"
          value={query.range}
          onChange={(e) => onChange({ range: (e.target as HTMLSelectElement).value, since: undefined, until: undefined })}
        >
          <option value="">All time</option>
          {RANGES.map((r) => (
            <option key={r.key} value={r.key}>
              {r.label}
            </option>
          ))}
          <option value="custom">Custom…</option>
        </select>
        {query.range === "custom" && (
          <div class="custom-range">
            <label>
              From
              <input
                type="datetime-local"
                value={toLocalInput(query.since)}
                onChange={(e) => {
                  const v = (e.target as HTMLInputElement).value;
                  onChange({ since: v ? new Date(v) : undefined });
                }}
              />
            </label>
            <label>
              To
              <input
                type="datetime-local"
                value={toLocalInput(query.until)}
                onChange={(e) => {
                  const v = (e.target as HTMLInputElement).value;
                  onChange({ until: v ? new Date(v) : undefined });
                }}
              />
            </label>
          </div>
        )}
      </fieldset>
      <fieldset class="text-filters">
        <legend>Source</legend>
        {text("host", "Host", "gpu-node-03")}
        {text("run", "Run", "llama-ft-42")}
        {text("group", "Group id", "12")}
      </fieldset>
      <div class="filters-footer">
        <button
          type="button"
          onClick={() => onChange({ severities: [], types: [], range: "", since: undefined, until: undefined, host: "", run: "", group: "" })}
        >
          Clear filters
        </button>
      </div>
    </section>
  );
}
