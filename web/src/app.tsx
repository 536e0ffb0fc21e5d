// The page's frame: asks for a token when diagd wants one (kept in
// sessionStorage only), learns what it allows (GetAccess), and shows the
// header with its views (Logs, Groups, Runs, Reports, Alerts), one at a time,
// chosen by the URL (router.ts).
import { useEffect, useMemo, useState } from "preact/hooks";
import { createDiagnostics, describeError, getToken, needsToken, setToken } from "./api";
import type { GetAccessResponse } from "./gen/diagnostics/v1/diagnostics_pb";
import { formatRoute, useRoute, type View } from "./router";
import { SessionContext, makeSession, roleName } from "./session";
import { LogsPage } from "./logs/logs-page";
import { GroupsView } from "./views/groups";
import { RunsView } from "./views/runs";
import { ReportsView } from "./views/reports";
import { AlertsView } from "./views/alerts";

const TABS: { view: View; label: string; method: string }[] = [
  { view: "logs", label: "Logs", method: "ListLogs" },
  { view: "groups", label: "Groups", method: "ListGroups" },
  { view: "runs", label: "Runs", method: "ListRuns" },
  { view: "reports", label: "Reports", method: "ListReports" },
  { view: "alerts", label: "Alerts", method: "ListAlertRules" },
];

type State =
  | { kind: "loading" }
  | { kind: "login"; error?: string }
  | { kind: "ready"; access: GetAccessResponse }
  | { kind: "failed"; error: string };

export function App() {
  const client = useMemo(() => createDiagnostics(), []);
  const [state, setState] = useState<State>({ kind: "loading" });
  const route = useRoute();

  const connect = async () => {
    try {
      const access = await client.getAccess({});
      setState({ kind: "ready", access });
    } catch (err) {
      if (needsToken(err)) {
        setState({ kind: "login", error: getToken() ? "That token is not valid." : undefined });
      } else {
        setState({ kind: "failed", error: describeError(err) });
      }
    }
  };
  useEffect(() => {
    void connect();
  }, []);

  const signOut = () => {
    setToken(null);
    setState({ kind: "login" });
  };
  const session = useMemo(
    () => (state.kind === "ready" ? makeSession(client, state.access, signOut) : null),
    [state],
  );

  if (state.kind === "loading") return <p class="page-status" role="status">Connecting to diagd…</p>;
  if (state.kind === "failed")
    return (
      <main class="page-status" role="alert">
        <h1>diagd cannot be reached</h1>
        <p>{state.error}</p>
        <button type="button" onClick={() => void connect()}>Try again</button>
      </main>
    );
  if (state.kind === "login")
    return (
      <Login
        error={state.error}
        onToken={(token) => {
          setToken(token);
          setState({ kind: "loading" });
          void connect();
        }}
      />
    );

  const access = state.access;
  return (
    <SessionContext.Provider value={session}>
      <header class="app-header">
        <a class="brand" href="#/logs">diagd</a>
        <nav aria-label="Views">
          <ul>
            {TABS.map((tab) => (
              <li key={tab.view}>
                <a
                  href={formatRoute({ view: tab.view, params: new URLSearchParams() })}
                  aria-current={route.view === tab.view ? "page" : undefined}
                >
                  {tab.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          {access.accessControl ? (
            <>
              <span class="role-badge" title="The role of your token">{roleName(access.role)}</span>
              <button type="button" class="link" onClick={signOut}>Sign out</button>
            </>
          ) : (
            <span class="role-badge" title="diagd runs without tokens: everyone may do everything">no access control</span>
          )}
        </div>
      </header>
      <main id="main" class="app-main">
        {route.view === "logs" && <LogsPage route={route} />}
        {route.view === "groups" && <GroupsView route={route} />}
        {route.view === "runs" && <RunsView route={route} />}
        {route.view === "reports" && <ReportsView route={route} />}
        {route.view === "alerts" && <AlertsView route={route} />}
      </main>
    </SessionContext.Provider>
  );
}

function Login({ error, onToken }: { error?: string; onToken: (token: string) => void }) {
  const [token, setTokenValue] = useState("");
  return (
    <main class="login">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (token.trim()) onToken(token.trim());
        }}
      >
        <h1>Sign in to diagd</h1>
        <p>This diagd requires a token. It is kept in this tab only (sessionStorage) and sent as <code>authorization: Bearer</code>.</p>
        <label for="token">Token</label>
        <input
          id="token"
          type="password"
          autoComplete="off"
          value={token}
          onInput={(e) => setTokenValue((e.target as HTMLInputElement).value)}
          aria-describedby={error ? "token-error" : undefined}
          autoFocus
        />
        {error && (
          <p id="token-error" class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit">Sign in</button>
      </form>
    </main>
  );
}
