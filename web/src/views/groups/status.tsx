// A group's triage status as a badge with its word (and, for an ignored
// group, until when or for how many more events).
import { GroupStatus, type ErrorGroup } from "../../gen/diagnostics/v1/diagnostics_pb";
import { formatCount, formatTime } from "../../ui/format";
import { statusName } from "./common";

export function StatusBadge({ group }: { group: ErrorGroup }) {
  const name = statusName(group.status);
  return (
    <span class={`state-badge status-${name}`}>
      <span class="state-dot" aria-hidden="true" />
      {name}
      {group.status === GroupStatus.UNRESOLVED && group.regressedAt ? " (regressed)" : ""}
    </span>
  );
}

/** "until Dec 02, 10:00" / "for 5 more events" / "for good"; "" unless ignored. */
export function ignoredFor(group: ErrorGroup): string {
  if (group.status !== GroupStatus.IGNORED) return "";
  if (group.ignoredUntil) return `until ${formatTime(group.ignoredUntil)}`;
  if (group.ignoredEventsLeft > 0n) return `for ${formatCount(group.ignoredEventsLeft)} more events`;
  return "for good";
}
