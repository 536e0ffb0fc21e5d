// Following runs live: WatchRuns streams member state changes as diagd
// derives them. When the stream ends or fails the view falls back to
// polling (the caller refreshes more often while the state is not "live")
// and the stream is opened again with a growing pause (1 s … 30 s); after
// each reopening the caller refreshes, since changes made while no stream
// was open are not replayed.
import { useEffect, useRef, useState } from "preact/hooks";
import type { RunChange } from "../../gen/diagnostics/v1/diagnostics_pb";
import { useSession } from "../../session";

export type LiveState = "connecting" | "live" | "polling";

export function useRunWatch(runIds: string[], onChange: (change: RunChange) => void, onResync: () => void): LiveState {
  const { client } = useSession();
  const [state, setState] = useState<LiveState>("connecting");
  const handlers = useRef({ onChange, onResync });
  handlers.current = { onChange, onResync };
  const key = runIds.join("\n");

  useEffect(() => {
    const abort = new AbortController();
    const pause = (ms: number) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        abort.signal.addEventListener("abort", () => {
          clearTimeout(timer);
          resolve();
        });
      });
    void (async () => {
      let failures = 0;
      let opened = 0;
      while (!abort.signal.aborted) {
        try {
          const stream = client.watchRuns(
            { runIds },
            {
              signal: abort.signal,
              onHeader: () => {
                setState("live");
                failures = 0;
                if (opened++ > 0) handlers.current.onResync();
              },
            },
          );
          for await (const message of stream) {
            if (message.change) handlers.current.onChange(message.change);
          }
        } catch {
          /* ended or failed: poll, then open it again */
        }
        if (abort.signal.aborted) return;
        setState("polling");
        await pause(Math.min(30_000, 1000 * 2 ** failures++));
      }
    })();
    return () => abort.abort();
  }, [key]);
  return state;
}

export function LiveIndicator({ state }: { state: LiveState }) {
  const text =
    state === "live"
      ? "Live: state changes stream in"
      : state === "connecting"
        ? "Connecting to live updates…"
        : "Live updates interrupted: refreshing every 5 s while reconnecting";
  return (
    <span class={`live-indicator live-${state}`} role="status">
      <span class="state-dot" aria-hidden="true" />
      {text}
    </span>
  );
}
