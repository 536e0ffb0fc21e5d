// A group's note: the knowledge-base entry (cause and fix) with who wrote
// it and when; an editor for the admin role (UpdateGroup with update_note:
// an empty text clears it).
import { useState } from "preact/hooks";
import { describeError } from "../../api";
import type { ErrorGroup } from "../../gen/diagnostics/v1/diagnostics_pb";
import { useSession } from "../../session";
import { formatAgo, formatTime, toDate } from "../../ui/format";
import { ConfirmDialog } from "../../ui/modal";
import { getActor } from "./common";

export function NoteEditor({ group, onSaved }: { group: ErrorGroup; onSaved: (message: string) => void }) {
  const session = useSession();
  const allowed = session.can("UpdateGroup");
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const [confirmRemove, setConfirmRemove] = useState(false);
  const note = group.note?.text ? group.note : undefined;

  const save = async (value: string) => {
    setBusy(true);
    setError(undefined);
    try {
      await session.client.updateGroup({ id: group.id, note: value, updateNote: true, actor: getActor() });
      setEditing(false);
      setConfirmRemove(false);
      onSaved(value ? "Note saved." : "Note removed.");
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="panel note-panel" aria-labelledby="note-title">
      <h2 id="note-title">Known fix</h2>
      {editing ? (
        <form
          class="form-grid"
          onSubmit={(e) => {
            e.preventDefault();
            void save(text.trim());
          }}
        >
          <div class="field">
            <label for="note-text">Cause and fix</label>
            <textarea
              id="note-text"
              value={text}
              maxLength={16384}
              aria-describedby="note-hint"
              onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
              autoFocus
            />
            <p class="hint" id="note-hint">
              What causes this error and how to fix it. It is shown on this page and in diagnostic reports.
            </p>
          </div>
          {error && (
            <p class="error" role="alert">
              {error}
            </p>
          )}
          <div class="button-row">
            <button type="submit" class="primary" disabled={busy}>
              {busy ? "Saving…" : "Save note"}
            </button>
            <button type="button" onClick={() => setEditing(false)} disabled={busy}>
              Cancel
            </button>
          </div>
        </form>
      ) : (
        <>
          {note ? (
            <>
              <div class="note-text">{note.text}</div>
              <p class="muted note-by">
                Written by {note.author || "someone"},{" "}
                <time dateTime={toDate(note.updatedAt)?.toISOString()} title={formatTime(note.updatedAt)}>
                  {formatAgo(note.updatedAt)}
                </time>
              </p>
            </>
          ) : (
            <p class="muted">No note yet. Write down the cause and the fix, so the next person who meets this error finds it here.</p>
          )}
          <div class="button-row">
            <button
              type="button"
              disabled={!allowed}
              aria-describedby={allowed ? undefined : "note-why"}
              onClick={() => {
                setText(note?.text ?? "");
                setError(undefined);
                setEditing(true);
              }}
            >
              {note ? "Edit note" : "Write a note"}
            </button>
            {note && (
              <button type="button" disabled={!allowed || busy} onClick={() => setConfirmRemove(true)}>
                Remove note
              </button>
            )}
          </div>
          {!allowed && (
            <p class="why-not" id="note-why">
              {session.whyNot("UpdateGroup")}
            </p>
          )}
          {error && (
            <p class="error" role="alert">
              {error}
            </p>
          )}
        </>
      )}
      <ConfirmDialog
        open={confirmRemove}
        title="Remove this note?"
        confirmLabel="Remove note"
        busy={busy}
        error={confirmRemove ? error : undefined}
        onConfirm={() => void save("")}
        onCancel={() => setConfirmRemove(false)}
      >
        <p>The cause and fix written for this group will be gone for everyone.</p>
      </ConfirmDialog>
    </section>
  );
}
