// Severities and error types as the page shows them: the seed's names,
// colours (critical red, high orange, medium yellow, low blue) and icons
// (X circle, alert circle, alert triangle, info circle), and the words used
// in URLs (deep links) for each.
import { ErrorType, Severity } from "../gen/diagnostics/v1/diagnostics_pb";

export const SEVERITIES: readonly Severity[] = [Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW];

const SEVERITY_INFO: Record<number, { name: string; label: string }> = {
  [Severity.CRITICAL]: { name: "critical", label: "Critical" },
  [Severity.HIGH]: { name: "high", label: "High" },
  [Severity.MEDIUM]: { name: "medium", label: "Medium" },
  [Severity.LOW]: { name: "low", label: "Low" },
};

/** "critical", "high", …: the URL word and the CSS class suffix (`sev-critical`). */
export function severityName(s: Severity): string {
  return SEVERITY_INFO[s]?.name ?? "unknown";
}
export function severityLabel(s: Severity): string {
  return SEVERITY_INFO[s]?.label ?? "Unknown";
}
export function parseSeverity(word: string): Severity | undefined {
  return SEVERITIES.find((s) => severityName(s) === word.toLowerCase());
}

export const ERROR_TYPES: readonly ErrorType[] = [
  ErrorType.OOM,
  ErrorType.NETWORK,
  ErrorType.CONFIGURATION,
  ErrorType.MODEL_LOADING,
  ErrorType.TRAINING,
  ErrorType.INFERENCE,
  ErrorType.OTHER,
];

const TYPE_INFO: Record<number, { name: string; label: string }> = {
  [ErrorType.OOM]: { name: "oom", label: "Out of memory" },
  [ErrorType.NETWORK]: { name: "network", label: "Network" },
  [ErrorType.CONFIGURATION]: { name: "configuration", label: "Configuration" },
  [ErrorType.MODEL_LOADING]: { name: "model_loading", label: "Model loading" },
  [ErrorType.TRAINING]: { name: "training", label: "Training" },
  [ErrorType.INFERENCE]: { name: "inference", label: "Inference" },
  [ErrorType.OTHER]: { name: "other", label: "Other" },
};

export function errorTypeName(t: ErrorType): string {
  return TYPE_INFO[t]?.name ?? "other";
}
export function errorTypeLabel(t: ErrorType): string {
  return TYPE_INFO[t]?.label ?? "Other";
}
export function parseErrorType(word: string): ErrorType | undefined {
  return ERROR_TYPES.find((t) => errorTypeName(t) === word.toLowerCase());
}

/** The seed's icon of a severity, drawn inline (decorative: the label says it). */
export function SeverityIcon({ severity, size = 18 }: { severity: Severity; size?: number }) {
  const common = {
    width: size,
    height: size,
    viewBox: "0 0 24 24",
    fill: "none",
    stroke: "currentColor",
    "stroke-width": 2,
    "stroke-linecap": "round" as const,
    "stroke-linejoin": "round" as const,
    "aria-hidden": "true" as const,
    focusable: "false" as const,
    class: `sev-icon sev-${severityName(severity)}`,
  };
  switch (severity) {
    case Severity.CRITICAL: // X circle
      return (
        <svg {...common}>
          <circle cx="12" cy="12" r="10" />
          <path d="M15 9l-6 6M9 9l6 6" />
        </svg>
      );
    case Severity.HIGH: // alert circle
      return (
        <svg {...common}>
          <circle cx="12" cy="12" r="10" />
          <path d="M12 8v4M12 16h.01" />
        </svg>
      );
    case Severity.MEDIUM: // alert triangle
      return (
        <svg {...common}>
          <path d="M10.3 3.9L1.8 18a2 2 0 0 0 1.7 3h17a2 2 0 0 0 1.7-3L13.7 3.9a2 2 0 0 0-3.4 0z" />
          <path d="M12 9v4M12 17h.01" />
        </svg>
      );
    default: // info circle
      return (
        <svg {...common}>
          <circle cx="12" cy="12" r="10" />
          <path d="M12 16v-4M12 8h.01" />
        </svg>
      );
  }
}

/** A coloured badge: icon and label. */
export function SeverityBadge({ severity }: { severity: Severity }) {
  return (
    <span class={`sev-badge sev-${severityName(severity)}`}>
      <SeverityIcon severity={severity} size={14} />
      {severityLabel(severity)}
    </span>
  );
}
