// The log list: one row per log (severity icon, time, error type, message,
// and where a search matched outside the message), virtualised with
// @tanstack/virtual-core so 10,000 loaded rows scroll smoothly; arrow keys
// move between rows, Enter opens one; "Load more" fetches the next keyset
// page.
import { Component } from "preact";
import { useLayoutEffect, useReducer, useRef } from "preact/hooks";
import {
  Virtualizer,
  elementScroll,
  observeElementOffset,
  observeElementRect,
} from "@tanstack/virtual-core";
import type { LogEntry, SearchMatch } from "../gen/diagnostics/v1/diagnostics_pb";
import { formatTime } from "../ui/format";
import { SeverityIcon, errorTypeLabel, severityLabel, severityName } from "../ui/severity";
import { Highlighted, MarkedFragment } from "./highlight";

export interface Row {
  log: LogEntry;
  /** Where a search matched (SearchLogs' hits). */
  matches?: SearchMatch[];
  /** Arrived through the live tail. */
  live?: boolean;
}

const ROW_HEIGHT = 60;

interface RowContentProps {
  row: Row;
  query: string;
  open: boolean;
  onOpen: (id: string) => void;
}

/** A row's button, rendered again only when its log, the search or whether
 * it is open changes — not when the row only moves (a batch of live logs
 * arriving above it moves every row). Clicks use the latest `onOpen`
 * (Preact updates the props of a component that skips rendering). */
class RowContent extends Component<RowContentProps> {
  shouldComponentUpdate(next: RowContentProps) {
    return next.row !== this.props.row || next.query !== this.props.query || next.open !== this.props.open;
  }

  render({ row, query, open }: RowContentProps) {
    const log = row.log;
    const elsewhere = row.matches?.find((m) => m.field !== "message");
    return (
      <button
        type="button"
        class="log-row-button"
        aria-expanded={open}
        aria-controls={open ? "log-details" : undefined}
        onClick={() => this.props.onOpen(open ? "" : log.id)}
      >
        <span class="row-line">
          <SeverityIcon severity={log.severity} />
          <span class="visually-hidden">{severityLabel(log.severity)}</span>
          <time class="row-time">{formatTime(log.occurredAt)}</time>
          <span class="row-type">{errorTypeLabel(log.errorType)}</span>
          <span class="row-message">
            <Highlighted text={log.message.split("\n", 1)[0]} query={query} />
          </span>
          <span class="row-expand" aria-hidden="true">
            {open ? "▾" : "▸"}
          </span>
        </span>
        <span class="row-meta muted">
          {elsewhere ? (
            <>
              in {elsewhere.field}: <MarkedFragment fragment={elsewhere.fragment} start={elsewhere.start} end={elsewhere.end} />
            </>
          ) : (
            [log.source?.host, log.source?.runId, log.source?.component].filter(Boolean).join(" · ") || "\u00a0"
          )}
        </span>
      </button>
    );
  }
}

/** A virtualizer over `count` rows of the element `scroller`, re-rendering on scroll. */
function useVirtualizer(count: number, scroller: { current: HTMLDivElement | null }) {
  const [, rerender] = useReducer((n: number) => n + 1, 0);
  const ref = useRef<Virtualizer<HTMLDivElement, HTMLElement> | null>(null);
  const options = {
    count,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    scrollToFn: elementScroll,
    observeElementRect,
    observeElementOffset,
    overscan: 10,
    onChange: () => rerender(0),
  };
  if (!ref.current) ref.current = new Virtualizer<HTMLDivElement, HTMLElement>(options);
  else ref.current.setOptions({ ...ref.current.options, ...options });
  const virtualizer = ref.current;
  useLayoutEffect(() => virtualizer._didMount(), [virtualizer]);
  useLayoutEffect(() => {
    virtualizer._willUpdate();
  });
  return virtualizer;
}

export function LogList({
  rows,
  query,
  selected,
  onOpen,
  label,
}: {
  rows: Row[];
  query: string;
  selected: string;
  onOpen: (id: string) => void;
  label: string;
}) {
  const scroller = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer(rows.length, scroller);
  const focusRow = (index: number) => {
    const target = Math.max(0, Math.min(rows.length - 1, index));
    virtualizer.scrollToIndex(target, { align: "auto" });
    requestAnimationFrame(() =>
      requestAnimationFrame(() => scroller.current?.querySelector<HTMLElement>(`[data-index="${target}"] button`)?.focus()),
    );
  };
  const onKeyDown = (e: KeyboardEvent) => {
    const row = (e.target as HTMLElement).closest<HTMLElement>("[data-index]");
    if (!row) return;
    const index = Number(row.dataset.index);
    const moves: Record<string, number> = {
      ArrowDown: index + 1,
      ArrowUp: index - 1,
      PageDown: index + 10,
      PageUp: index - 10,
      Home: 0,
      End: rows.length - 1,
    };
    if (e.key in moves) {
      e.preventDefault();
      focusRow(moves[e.key]);
    }
  };
  return (
    <div ref={scroller} class="log-scroller" onKeyDown={onKeyDown}>
      <ul class="log-list" aria-label={label} style={{ height: `${virtualizer.getTotalSize()}px` }}>
        {virtualizer.getVirtualItems().map((item) => {
          const row = rows[item.index];
          const log = row.log;
          return (
            <li
              key={log.id}
              data-index={item.index}
              data-log-id={log.id}
              class={`log-row sev-${severityName(log.severity)}${row.live ? " live" : ""}`}
              style={{ transform: `translateY(${item.start}px)`, height: `${ROW_HEIGHT}px` }}
              aria-setsize={rows.length}
              aria-posinset={item.index + 1}
            >
              <RowContent row={row} query={query} open={selected === log.id} onOpen={onOpen} />
            </li>
          );
        })}
      </ul>
    </div>
  );
}
