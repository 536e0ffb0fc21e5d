// The Runs view in Chromium against a real diagd: a run's state from
// heartbeats (two members, one of them finishing), followed live with
// WatchRuns (a member finishing and a new run appear without a reload), and
// a run's page with every member, updated live when one fails.
// Screenshots: runs, run-page.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import type { Browser } from "playwright-core";
import { RunPhase } from "../src/gen/diagnostics/v1/diagnostics_pb";
import { launchBrowser, newLog, screenshot, seed, startDiagd, type Diagd } from "./harness";
import { assertAccessible, openView } from "./views-helpers";

let browser: Browser;
let diagd: Diagd;

before(async () => {
  browser = await launchBrowser();
  diagd = await startDiagd();
});
after(async () => {
  await browser?.close();
  await diagd?.stop();
});

const beat = (host: string, rank: number, fields: Record<string, unknown> = {}) =>
  diagd.client().heartbeat({
    runId: "llama-ft-42",
    host,
    rank,
    pid: 4000 + rank,
    phase: RunPhase.TRAINING,
    step: 12340n,
    metrics: { loss: 0.4213, samples_per_second: 118.5 },
    ...fields,
  });

test("the runs list shows a run's state from heartbeats and follows it live", async () => {
  await beat("gpu-node-01", 0);
  await beat("gpu-node-02", 1);
  await seed(diagd.client(), [newLog({ source: { host: "gpu-node-02", runId: "llama-ft-42", component: "trainer", labels: {} } as never })]);
  await diagd.client().recordAction({
    action: "start_training",
    details: { lr: 0.0003 },
    source: { host: "gpu-node-01", runId: "llama-ft-42", component: "trainer", labels: {} },
  });

  const page = await openView(browser, diagd.url, "#/runs");
  const row = page.locator('tr[data-run="llama-ft-42"]');
  await row.waitFor();
  assert.match(await row.locator('td[data-label="State"]').innerText(), /alive/);
  assert.match(await row.locator('td[data-label="Members"]').innerText(), /2\s+\(2 alive\)/);
  assert.match(await row.locator('td[data-label="Step"]').innerText(), /12,340/);
  assert.match(await row.locator('td[data-label="Last heartbeat"]').innerText(), /just now|s ago/);
  await page.getByText("Live: state changes stream in").waitFor();

  // A member finishes while the page is open: WatchRuns brings the change.
  await beat("gpu-node-02", 1, { phase: RunPhase.FINISHED, step: 12341n });
  await row.locator('td[data-label="Members"]', { hasText: "1 alive · 1 finished" }).waitFor({ timeout: 10_000 });
  assert.match(await row.locator('td[data-label="State"]').innerText(), /alive/);

  // A new run appears with its first heartbeat.
  await diagd.client().heartbeat({ runId: "bert-eval-7", host: "gpu-node-03", rank: -1, pid: 777, phase: RunPhase.STARTING });
  await page.locator('tr[data-run="bert-eval-7"]').waitFor({ timeout: 10_000 });

  await assertAccessible(page, "runs list");
  await screenshot(page, "runs");
  const narrow = await openView(browser, diagd.url, "#/runs", { width: 400, colorScheme: "dark" });
  await narrow.locator('tr[data-run="llama-ft-42"]').waitFor();
  await assertAccessible(narrow, "runs list, 400 px, dark");
  await screenshot(narrow, "runs-narrow-dark");
  await narrow.context().close();

  // Filter by state: only finished runs (none).
  await page.getByRole("checkbox", { name: "finished" }).check();
  await page.waitForFunction(() => location.hash.includes("state=finished"));
  await page.getByText("No runs match these filters.").waitFor();
  await page.context().close();
});

test("a run's page lists every member, its groups and actions, and updates live", async () => {
  const page = await openView(browser, diagd.url, "#/runs");
  await page.getByRole("link", { name: "llama-ft-42" }).click();
  await page.getByRole("heading", { level: 1, name: "llama-ft-42" }).waitFor();
  const members = page.locator("table.members-table tbody tr");
  await members.first().waitFor();
  assert.equal(await members.count(), 2);
  const rank1 = page.locator('tr[data-member="gpu-node-02/1"]');
  assert.match(await rank1.locator('td[data-label="State"]').innerText(), /finished/);
  assert.match(await rank1.locator('td[data-label="Step"]').innerText(), /12,341/);
  const rank0 = page.locator('tr[data-member="gpu-node-01/0"]');
  assert.match(await rank0.innerText(), /4000/);
  assert.match(await rank0.locator('td[data-label="Progress"]').innerText(), /loss\s+0\.4213/);
  await page.getByRole("heading", { name: "Error groups" }).waitFor();
  await page.getByRole("link", { name: /OutOfMemoryError/ }).waitFor();
  await page.getByText("start_training").waitFor();
  await page.getByText("Live: state changes stream in").waitFor();

  // Rank 0 fails while the page is open.
  await beat("gpu-node-01", 0, { phase: RunPhase.FAILED, message: "NCCL timeout in all_reduce" });
  await rank0.locator('td[data-label="State"]', { hasText: "failed" }).waitFor({ timeout: 10_000 });
  await rank0.locator(".member-message", { hasText: "NCCL timeout in all_reduce" }).waitFor();
  await page.locator(".run-summary", { hasText: "rank 0 on gpu-node-01 failed" }).waitFor();
  await page.locator(".view-head .state-badge", { hasText: "failed" }).waitFor();

  await assertAccessible(page, "run page");
  await screenshot(page, "run-page");
  await page.emulateMedia({ colorScheme: "dark" });
  await assertAccessible(page, "run page, dark");
  await screenshot(page, "run-page-dark");
  await page.context().close();
});
