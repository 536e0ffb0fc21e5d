// Loading data for the Groups, Runs, Reports and Alerts views: `useLoad`
// (one answer, reloaded when its inputs change) and `usePaged` (keyset
// pages appended by "Load more"). Both cancel the request in flight when the
// inputs change or the view goes away, keep the last answer while a new one
// loads (no flashing), and turn failures into a sentence (describeError).
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { Code, ConnectError } from "@connectrpc/connect";
import { describeError } from "../api";

function cancelled(err: unknown): boolean {
  return ConnectError.from(err).code === Code.Canceled;
}

export interface Loaded<T> {
  data: T | undefined;
  error: string | undefined;
  loading: boolean;
  /** Loads again with the same inputs. */
  reload(): void;
  /** Replaces the data (after a change whose answer is the new state). */
  set(data: T): void;
}

/** Calls `load` now and whenever `deps` change. */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const [nonce, setNonce] = useState(0);
  useEffect(() => {
    const abort = new AbortController();
    setLoading(true);
    load(abort.signal).then(
      (value) => {
        if (abort.signal.aborted) return;
        setData(value);
        setError(undefined);
        setLoading(false);
      },
      (err) => {
        if (abort.signal.aborted || cancelled(err)) return;
        setError(describeError(err));
        setLoading(false);
      },
    );
    return () => abort.abort();
  }, [...deps, nonce]);
  const reload = useCallback(() => setNonce((n) => n + 1), []);
  return { data, error, loading, reload, set: setData };
}

export interface Page<T> {
  items: T[];
  /** The next page's token; "" on the last page. */
  next: string;
}

export interface Paged<T> {
  items: T[];
  error: string | undefined;
  loading: boolean;
  /** True while there is another page. */
  more: boolean;
  loadMore(): void;
  /** Loads the first page again (the list is replaced when it answers). */
  reload(): void;
  /** Changes the loaded items in place (live updates). */
  update(change: (items: T[]) => T[]): void;
}

/** Keyset paging: the first page when `deps` change, the next on loadMore. */
export function usePaged<T>(fetchPage: (token: string, signal: AbortSignal) => Promise<Page<T>>, deps: unknown[]): Paged<T> {
  const [items, setItems] = useState<T[]>([]);
  const [next, setNext] = useState("");
  const [error, setError] = useState<string | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const [nonce, setNonce] = useState(0);
  const more = useRef<AbortController | null>(null);
  const fetchRef = useRef(fetchPage);
  fetchRef.current = fetchPage;

  useEffect(() => {
    more.current?.abort();
    const abort = new AbortController();
    setLoading(true);
    fetchPage("", abort.signal).then(
      (page) => {
        if (abort.signal.aborted) return;
        setItems(page.items);
        setNext(page.next);
        setError(undefined);
        setLoading(false);
      },
      (err) => {
        if (abort.signal.aborted || cancelled(err)) return;
        setError(describeError(err));
        setLoading(false);
      },
    );
    return () => abort.abort();
  }, [...deps, nonce]);
  useEffect(() => () => more.current?.abort(), []);

  const loadMore = useCallback(() => {
    if (!next || more.current) return;
    const abort = new AbortController();
    more.current = abort;
    setLoading(true);
    fetchRef.current(next, abort.signal).then(
      (page) => {
        more.current = null;
        if (abort.signal.aborted) return;
        setItems((items) => [...items, ...page.items]);
        setNext(page.next);
        setError(undefined);
        setLoading(false);
      },
      (err) => {
        more.current = null;
        if (abort.signal.aborted || cancelled(err)) return;
        setError(describeError(err));
        setLoading(false);
      },
    );
  }, [next]);

  return {
    items,
    error,
    loading,
    more: next !== "",
    loadMore,
    reload: useCallback(() => setNonce((n) => n + 1), []),
    update: setItems,
  };
}

/** The current time, moving every `everyMs` (for "12 s ago"). */
export function useNow(everyMs = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}

/** Runs `action` every `everyMs` while mounted (and `enabled`). */
export function useInterval(action: () => void, everyMs: number, enabled = true): void {
  const ref = useRef(action);
  ref.current = action;
  useEffect(() => {
    if (!enabled) return;
    const timer = setInterval(() => ref.current(), everyMs);
    return () => clearInterval(timer);
  }, [everyMs, enabled]);
}
