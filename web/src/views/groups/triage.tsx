// A group's triage actions: resolve, reopen, ignore (for good, for a while,
// until a time, or for a number of further events) and merge other groups
// into it (picked by id or from the list). They need the admin role
// (UpdateGroup, MergeGroups): for other tokens they are disabled and the
// reason is shown next to them.
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { useState } from "preact/hooks";
import { describeError } from "../../api";
import { GroupStatus, type ErrorGroup, type UpdateGroupRequest } from "../../gen/diagnostics/v1/diagnostics_pb";
import { useSession } from "../../session";
import { formatCount, formatTime } from "../../ui/format";
import { Modal } from "../../ui/modal";
import { SeverityIcon } from "../../ui/severity";
import { useLoad } from "../../ui/use-load";
import { getActor, parseIds, setActor, statusName } from "./common";
import { StatusBadge, ignoredFor } from "./status";

type Change = Omit<Partial<UpdateGroupRequest>, "$typeName" | "$unknown">;

export function Triage({ group, onChanged }: { group: ErrorGroup; onChanged: (message: string) => void }) {
  const session = useSession();
  const canUpdate = session.can("UpdateGroup");
  const canMerge = session.can("MergeGroups");
  const [actor, setActorValue] = useState(getActor);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const [dialog, setDialog] = useState<"ignore" | "merge" | null>(null);

  const update = async (change: Change, done: string) => {
    setBusy(true);
    setError(undefined);
    try {
      await session.client.updateGroup({ id: group.id, actor, ...change });
      onChanged(done);
      setDialog(null);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="panel" aria-labelledby="triage-title">
      <h2 id="triage-title">Triage</h2>
      <dl class="facts">
        <dt>Status</dt>
        <dd>
          <StatusBadge group={group} /> {ignoredFor(group)}
        </dd>
        {group.statusChangedAt && (
          <>
            <dt>Changed</dt>
            <dd>
              {formatTime(group.statusChangedAt)} by {group.statusChangedBy || "diagd"}
            </dd>
          </>
        )}
        {group.regressedAt && (
          <>
            <dt>Regressed</dt>
            <dd>{formatTime(group.regressedAt)}</dd>
          </>
        )}
      </dl>
      <div class="button-row triage-actions">
        {group.status !== GroupStatus.RESOLVED && (
          <button
            type="button"
            class="primary"
            disabled={!canUpdate || busy}
            aria-describedby={canUpdate ? undefined : "triage-why"}
            onClick={() => void update({ status: GroupStatus.RESOLVED }, "Resolved: a new event reopens it as a regression.")}
          >
            Resolve
          </button>
        )}
        {group.status !== GroupStatus.UNRESOLVED && (
          <button
            type="button"
            disabled={!canUpdate || busy}
            aria-describedby={canUpdate ? undefined : "triage-why"}
            onClick={() => void update({ status: GroupStatus.UNRESOLVED }, "Reopened.")}
          >
            Reopen
          </button>
        )}
        <button
          type="button"
          disabled={!canUpdate || busy}
          aria-describedby={canUpdate ? undefined : "triage-why"}
          onClick={() => setDialog("ignore")}
        >
          Ignore…
        </button>
        <button
          type="button"
          disabled={!canMerge || busy}
          aria-describedby={canMerge ? undefined : "triage-why"}
          onClick={() => setDialog("merge")}
        >
          Merge…
        </button>
      </div>
      {!(canUpdate && canMerge) && (
        <p class="why-not" id="triage-why">
          Resolve, ignore, merge, split and notes are disabled: {session.whyNot(canUpdate ? "MergeGroups" : "UpdateGroup")}
        </p>
      )}
      {canUpdate && (
        <div class="field actor-field">
          <label for="triage-actor">Sign changes as</label>
          <input
            id="triage-actor"
            value={actor}
            placeholder="your name (optional)"
            autoComplete="name"
            maxLength={128}
            onInput={(e) => {
              const name = (e.target as HTMLInputElement).value;
              setActorValue(name);
              setActor(name);
            }}
          />
        </div>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <IgnoreDialog
        open={dialog === "ignore"}
        busy={busy}
        error={dialog === "ignore" ? error : undefined}
        onCancel={() => {
          setDialog(null);
          setError(undefined);
        }}
        onIgnore={(change, done) => void update({ status: GroupStatus.IGNORED, ...change }, done)}
      />
      <MergeDialog
        open={dialog === "merge"}
        target={group}
        onCancel={() => setDialog(null)}
        onMerged={(message) => {
          setDialog(null);
          onChanged(message);
        }}
      />
    </section>
  );
}

const DURATIONS: { label: string; hours: number }[] = [
  { label: "1 hour", hours: 1 },
  { label: "8 hours", hours: 8 },
  { label: "24 hours", hours: 24 },
  { label: "7 days", hours: 24 * 7 },
  { label: "30 days", hours: 24 * 30 },
];

function IgnoreDialog({
  open,
  busy,
  error,
  onCancel,
  onIgnore,
}: {
  open: boolean;
  busy: boolean;
  error?: string;
  onCancel: () => void;
  onIgnore: (change: Change, done: string) => void;
}) {
  const [mode, setMode] = useState<"forever" | "for" | "until" | "events">("forever");
  const [hours, setHours] = useState(24);
  const [until, setUntil] = useState("");
  const [events, setEvents] = useState("100");
  const [invalid, setInvalid] = useState<string>();

  const submit = () => {
    setInvalid(undefined);
    switch (mode) {
      case "forever":
        return onIgnore({}, "Ignored for good.");
      case "for": {
        const at = new Date(Date.now() + hours * 3600_000);
        return onIgnore({ ignoreUntil: timestampFromDate(at) }, `Ignored until ${formatTime(at)}.`);
      }
      case "until": {
        const at = new Date(until);
        if (!until || Number.isNaN(at.getTime()) || at.getTime() <= Date.now()) {
          return setInvalid("Give a time in the future.");
        }
        return onIgnore({ ignoreUntil: timestampFromDate(at) }, `Ignored until ${formatTime(at)}.`);
      }
      case "events": {
        const n = Number(events);
        if (!Number.isInteger(n) || n < 1) return setInvalid("Give a whole number of events, 1 or more.");
        return onIgnore({ ignoreEvents: BigInt(n) }, `Ignored for ${formatCount(n)} more events.`);
      }
    }
  };

  const radio = (value: typeof mode, label: string) => (
    <label class="radio">
      <input type="radio" name="ignore-mode" value={value} checked={mode === value} onChange={() => setMode(value)} />
      {label}
    </label>
  );
  return (
    <Modal open={open} title="Ignore this group" onClose={onCancel}>
      <form
        class="form-grid"
        onSubmit={(e) => {
          e.preventDefault();
          submit();
        }}
      >
        <p class="hint">An ignored group stays out of the unresolved list; when its rule runs out it is unresolved again.</p>
        <fieldset>
          <legend>How long</legend>
          {radio("forever", "For good")}
          <div class="inline">
            {radio("for", "For")}
            <label class="visually-hidden" for="ignore-hours">
              Duration
            </label>
            <select
              id="ignore-hours"
              value={hours}
              disabled={mode !== "for"}
              onChange={(e) => setHours(Number((e.target as HTMLSelectElement).value))}
            >
              {DURATIONS.map((d) => (
                <option key={d.hours} value={d.hours}>
                  {d.label}
                </option>
              ))}
            </select>
          </div>
          <div class="inline">
            {radio("until", "Until")}
            <label class="visually-hidden" for="ignore-until">
              Ignore until (date and time)
            </label>
            <input
              id="ignore-until"
              type="datetime-local"
              value={until}
              disabled={mode !== "until"}
              onInput={(e) => setUntil((e.target as HTMLInputElement).value)}
            />
          </div>
          <div class="inline">
            {radio("events", "For the next")}
            <label class="visually-hidden" for="ignore-events">
              Number of events
            </label>
            <input
              id="ignore-events"
              type="number"
              min={1}
              step={1}
              size={6}
              value={events}
              disabled={mode !== "events"}
              onInput={(e) => setEvents((e.target as HTMLInputElement).value)}
            />
            <span>events</span>
          </div>
        </fieldset>
        {(invalid || error) && (
          <p class="error" role="alert">
            {invalid ?? error}
          </p>
        )}
        <div class="modal-actions">
          <button type="button" onClick={onCancel}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={busy}>
            {busy ? "Ignoring…" : "Ignore"}
          </button>
        </div>
      </form>
    </Modal>
  );
}

/** Merge other groups into `target`: ids typed in, or ticked in a searchable list. */
function MergeDialog({
  open,
  target,
  onCancel,
  onMerged,
}: {
  open: boolean;
  target: ErrorGroup;
  onCancel: () => void;
  onMerged: (message: string) => void;
}) {
  const { client } = useSession();
  const [typed, setTyped] = useState("");
  const [picked, setPicked] = useState<Set<string>>(new Set());
  const [search, setSearch] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const candidates = useLoad(
    async (signal) =>
      open
        ? (await client.listGroups({ text: search.trim(), pageSize: 20 }, { signal })).groups.filter((g) => g.id !== target.id)
        : [],
    [open, search, String(target.id)],
  );

  const submit = async () => {
    const { ids, bad } = parseIds(typed);
    if (bad.length) return setError(`Not a group id: ${bad.join(", ")}`);
    const all = [...new Set([...ids.map(String), ...picked])].filter((id) => id !== String(target.id));
    if (!all.length) return setError("Give at least one other group: type its id or tick it in the list.");
    setBusy(true);
    setError(undefined);
    try {
      const merged = await client.mergeGroups({ targetId: target.id, sourceIds: all.map((id) => BigInt(id)) });
      setTyped("");
      setPicked(new Set());
      onMerged(
        `Merged ${all.length === 1 ? "group" : "groups"} ${all.map((id) => `#${id}`).join(", ")} into this one: ${formatCount(merged.movedLogs)} logs moved; their errors land here from now on.`,
      );
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal open={open} title={`Merge groups into #${target.id}`} onClose={onCancel} wide>
      <form
        class="form-grid"
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <p class="hint">
          The merged groups' logs move into this group, and their future errors land here. To undo, split a fingerprint out again.
        </p>
        <div class="field">
          <label for="merge-ids">Group ids</label>
          <input
            id="merge-ids"
            value={typed}
            placeholder="e.g. 12, 15"
            autoComplete="off"
            aria-describedby="merge-ids-hint"
            onInput={(e) => setTyped((e.target as HTMLInputElement).value)}
          />
          <p class="hint" id="merge-ids-hint">
            Separated by commas or spaces; or tick groups below.
          </p>
        </div>
        <fieldset>
          <legend>Or pick from the list</legend>
          <label class="visually-hidden" for="merge-search">
            Search groups by title or culprit
          </label>
          <input
            id="merge-search"
            type="search"
            placeholder="Search title or culprit"
            value={search}
            onInput={(e) => setSearch((e.target as HTMLInputElement).value)}
          />
          <ul class="merge-list">
            {(candidates.data ?? []).map((g) => (
              <li key={String(g.id)}>
                <label>
                  <input
                    type="checkbox"
                    checked={picked.has(String(g.id))}
                    onChange={() =>
                      setPicked((p) => {
                        const next = new Set(p);
                        if (!next.delete(String(g.id))) next.add(String(g.id));
                        return next;
                      })
                    }
                  />
                  <SeverityIcon severity={g.severity} size={14} />
                  <span class="mono">#{String(g.id)}</span> <span class="merge-title">{g.title}</span>{" "}
                  <span class="muted">
                    ({formatCount(g.eventCount)} events, {statusName(g.status)})
                  </span>
                </label>
              </li>
            ))}
          </ul>
          {candidates.loading && <p class="hint">Loading groups…</p>}
          {candidates.data?.length === 0 && !candidates.loading && <p class="hint">No other groups match.</p>}
          {candidates.error && <p class="error">{candidates.error}</p>}
        </fieldset>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <div class="modal-actions">
          <button type="button" onClick={onCancel}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={busy}>
            {busy ? "Merging…" : "Merge into this group"}
          </button>
        </div>
      </form>
    </Modal>
  );
}
