// What the browser tests share: a real `diagd serve` (target/debug/diagd, or
// $DIAGD_BIN) on a free loopback port with its own embedded PostgreSQL in a
// temporary data directory; a Node gRPC-Web client of it (the page's own
// generated code) to seed logs and check what the page did; Debian's
// Chromium driven by playwright-core (no browser download); screenshots
// saved as test artifacts under web/test-results/ (or $DIAGD_WEB_ARTIFACTS).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, existsSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createClient, type Client } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { chromium, type Browser, type Page } from "playwright-core";
import { AxeBuilder } from "@axe-core/playwright";
import { create } from "@bufbuild/protobuf";
import {
  DiagnosticsService,
  ErrorType,
  NewLogSchema,
  Severity,
  type NewLog,
} from "../src/gen/diagnostics/v1/diagnostics_pb";

const WEB = resolve(import.meta.dirname, "..");
const REPO = resolve(WEB, "..");
export const ARTIFACTS = process.env.DIAGD_WEB_ARTIFACTS ?? join(WEB, "test-results");

export type Diagnostics = Client<typeof DiagnosticsService>;

export interface Diagd {
  /** http://127.0.0.1:PORT — the page and gRPC-Web. */
  url: string;
  /** A client with the given token (none by default). */
  client(token?: string): Diagnostics;
  /** What diagd printed (for failure messages). */
  output(): string;
  stop(): Promise<void>;
}

export interface DiagdOptions {
  readTokens?: string[];
  adminTokens?: string[];
  ingestTokens?: string[];
  /** More `diagd serve` flags. */
  args?: string[];
}

async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => ok(port));
    });
  });
}

/** Starts `diagd serve` and waits until the page and GetAccess answer. */
export async function startDiagd(options: DiagdOptions = {}): Promise<Diagd> {
  const binary = process.env.DIAGD_BIN ?? join(REPO, "target/debug/diagd");
  if (!existsSync(binary)) throw new Error(`${binary} is missing: run \`cargo build\` first`);
  const dataDir = mkdtempSync(join(tmpdir(), "diagd-web-data-"));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const args = ["serve", "--listen", `127.0.0.1:${port}`, "--data-dir", dataDir, ...(options.args ?? [])];
  if (options.readTokens?.length) args.push("--read-tokens", options.readTokens.join(","));
  if (options.adminTokens?.length) args.push("--admin-tokens", options.adminTokens.join(","));
  if (options.ingestTokens?.length) args.push("--ingest-tokens", options.ingestTokens.join(","));
  const env = { ...process.env };
  delete env.DATABASE_URL;
  let output = "";
  const child: ChildProcess = spawn(binary, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout?.on("data", (d) => (output += d));
  child.stderr?.on("data", (d) => (output += d));
  const clientFor = (token?: string) =>
    createClient(
      DiagnosticsService,
      createGrpcWebTransport({
        baseUrl: url,
        interceptors: token
          ? [(next) => async (req) => {
              req.header.set("authorization", `Bearer ${token}`);
              return next(req);
            }]
          : [],
      }),
    );
  const token = options.adminTokens?.[0] ?? options.readTokens?.[0];
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`diagd exited (${child.exitCode}):\n${output}`);
    try {
      const page = await fetch(`${url}/`);
      if (page.ok) {
        await clientFor(token).getAccess({});
        break;
      }
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`diagd did not start within 60 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    client: clientFor,
    output: () => output,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
        if (child.exitCode === null) child.kill("SIGKILL");
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Debian's Chromium, headless, with no network beyond loopback. */
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** A new page at 1280×800 (the size) with downloads accepted. */
export async function openPage(browser: Browser, url: string, colorScheme: "light" | "dark" = "light"): Promise<Page> {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 800 },
    acceptDownloads: true,
    colorScheme,
  });
  // Content-Security-Policy violations are collected (see cspViolations).
  await context.addInitScript(() => {
    const w = window as unknown as { __csp: string[] };
    w.__csp = [];
    document.addEventListener("securitypolicyviolation", (e) => w.__csp.push(`${e.violatedDirective}: ${e.blockedURI}`));
  });
  const page = await context.newPage();
  page.on("pageerror", (e) => console.error(`page error: ${e.message}`));
  await page.goto(url);
  return page;
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: false });
  return path;
}

/** axe-core's serious and critical violations on the page as it is now. */
export async function accessibilityViolations(page: Page): Promise<string[]> {
  const result = await new AxeBuilder({ page }).analyze();
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join("; ")}`);
}

/** What the page's Content-Security-Policy blocked so far. */
export async function cspViolations(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { __csp: string[] }).__csp);
}

/** A log as trainers report them; fields override the defaults. */
export function newLog(fields: Partial<NewLog> = {}): NewLog {
  return create(NewLogSchema, {
    severity: Severity.HIGH,
    errorType: ErrorType.OOM,
    message: "CUDA out of memory. Tried to allocate 2.00 GiB",
    stackTrace:
      'Traceback (most recent call last):\n  File "/home/alice/proj/train.py", line 42, in train_step\n    loss.backward()\ntorch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB',
    ...fields,
  } as never);
}

/** Reports each log (ReportError) and answers their ids, in order. */
export async function seed(client: Diagnostics, logs: NewLog[]): Promise<string[]> {
  const ids: string[] = [];
  for (const log of logs) {
    const response = await client.reportError({ log });
    ids.push(response.id);
  }
  return ids;
}

export { Severity, ErrorType, rmSync };
