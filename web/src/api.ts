// The page's connection to diagd: one gRPC-Web client of DiagnosticsService on
// the page's own origin, the bearer token (kept in sessionStorage only, never
// in localStorage or the URL) sent as `authorization`, and ConnectError turned
// into a sentence a person can act on.
import { Code, ConnectError, createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { DiagnosticsService } from "./gen/diagnostics/v1/diagnostics_pb";

export type Diagnostics = Client<typeof DiagnosticsService>;

const TOKEN_KEY = "diagd.token";

export function getToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function setToken(token: string | null): void {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    /* storage disabled: the token lives only in this page */
  }
}

const withToken: Interceptor = (next) => async (req) => {
  const token = getToken();
  if (token) req.header.set("authorization", `Bearer ${token}`);
  return next(req);
};

/** A client for `baseUrl` (default: the page's origin). */
export function createDiagnostics(baseUrl: string = location.origin): Diagnostics {
  const transport = createGrpcWebTransport({ baseUrl, interceptors: [withToken] });
  return createClient(DiagnosticsService, transport);
}

/** True when the error means the token is missing or wrong (show the login). */
export function needsToken(err: unknown): boolean {
  return ConnectError.from(err).code === Code.Unauthenticated;
}

/** True for failures a retry cannot fix (token, role, the request itself). */
export function isPermanent(err: unknown): boolean {
  const code = ConnectError.from(err).code;
  return [Code.Unauthenticated, Code.PermissionDenied, Code.InvalidArgument, Code.Unimplemented].includes(code);
}

/** A short human message for an RPC failure. */
export function describeError(err: unknown): string {
  const e = ConnectError.from(err);
  switch (e.code) {
    case Code.Unauthenticated:
      return "A token is needed (or the one given is not valid).";
    case Code.PermissionDenied:
      return `Your token's role may not do this: ${e.rawMessage}`;
    case Code.Unavailable:
      return `diagd or its database is unavailable: ${e.rawMessage}`;
    case Code.Canceled:
      return "Cancelled.";
    default:
      return e.rawMessage || e.message;
  }
}
