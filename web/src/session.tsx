// What every view shares: the gRPC-Web client and what the caller's token
// allows (GetAccess). `can("ClearLogs")` decides whether an action is
// enabled; `whyNot("ClearLogs")` is the reason shown on a disabled one.
import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { Diagnostics } from "./api";
import { Role, type GetAccessResponse } from "./gen/diagnostics/v1/diagnostics_pb";

export interface Session {
  client: Diagnostics;
  access: GetAccessResponse;
  /** True when the token may call `method` (a DiagnosticsService RPC name). */
  can(method: string): boolean;
  /** Why `method` is not allowed, for a disabled button's title; "" when it is. */
  whyNot(method: string): string;
  /** Forget the token and show the login again. */
  signOut(): void;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside the signed-in page");
  return session;
}

export function roleName(role: Role): string {
  switch (role) {
    case Role.INGEST:
      return "ingest";
    case Role.READ:
      return "read";
    case Role.ADMIN:
      return "admin";
    default:
      return "open";
  }
}

export function makeSession(client: Diagnostics, access: GetAccessResponse, signOut: () => void): Session {
  const allowed = new Set(access.allowedMethods);
  return {
    client,
    access,
    signOut,
    can: (method) => allowed.has(method),
    whyNot: (method) =>
      allowed.has(method)
        ? ""
        : `Needs the admin role; your token has the ${roleName(access.role)} role.`,
  };
}
