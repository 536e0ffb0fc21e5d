// The seed's workflows 1–5 on the Logs view, in Chromium against a real
// diagd: filter and expand; search as you type with highlighting; generate
// and download a report; switch debug mode (and see a switch made
// elsewhere); export, then clear with the dialog. Also the live list, deep
// links, a read-only token, keyboard use, and axe-core in both themes.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import type { Browser, Page } from "playwright-core";
import {
  accessibilityViolations,
  cspViolations,
  launchBrowser,
  newLog,
  openPage,
  screenshot,
  startDiagd,
  Severity,
  ErrorType,
  type Diagd,
} from "./harness";
import { seedVaried, variedLogs } from "./seed";

let browser: Browser;
let diagd: Diagd;
let seeded = 0;

before(async () => {
  browser = await launchBrowser();
  diagd = await startDiagd();
  seeded = await seedVaried(diagd.client());
});
after(async () => {
  await browser?.close();
  await diagd?.stop();
});

const total = (page: Page) => page.getByTestId("stat-total");
const rows = (page: Page) => page.locator(".log-list .log-row");

async function ready(page: Page, expectedTotal?: number) {
  await page.getByRole("toolbar", { name: "Log actions" }).waitFor();
  if (expectedTotal !== undefined)
    await page.waitForFunction(
      (n) => document.querySelector('[data-testid="stat-total"]')?.textContent?.replace(/\D/g, "") === String(n),
      expectedTotal,
    );
  await page.locator(".list-status").filter({ hasNotText: "Loading" }).waitFor();
}

test("workflow 1: filter to High + OOM, expand a log and see its stack trace", async () => {
  const page = await openPage(browser, diagd.url);
  await ready(page, seeded);
  await page.getByRole("region", { name: "Stats" }).getByRole("button", { name: /^High/ }).click();
  await page.getByRole("button", { name: /^Filters/ }).click();
  await page.getByRole("checkbox", { name: "Out of memory" }).check();
  await page.waitForFunction(() => location.hash.includes("severity=high") && location.hash.includes("type=oom"));
  // Eight HIGH OOM logs were seeded (plus one CRITICAL OOM that must not show).
  await page.waitForFunction(() => document.querySelectorAll(".log-list .log-row").length === 8);
  for (const text of await rows(page).allInnerTexts()) {
    assert.match(text, /Out of memory/);
    assert.match(text, /CUDA out of memory/);
  }
  assert.equal(await total(page).innerText(), "8");
  await rows(page).first().getByRole("button").click();
  const details = page.getByRole("region", { name: "Log details" });
  await details.getByText("loss.backward()").waitFor();
  await details.getByRole("heading", { name: "What to try" }).waitFor();
  await details.getByText("Reduce batch size, enable gradient checkpointing").waitFor();
  // In-app frames are emphasised; library frames are not.
  assert.ok((await details.locator(".frame.in-app").count()) >= 3);
  assert.ok((await details.locator(".frame:not(.in-app)").count()) >= 2);
  assert.match(page.url(), /log=/);
  await screenshot(page, "logs-filtered-expanded");
  await page.context().close();
});

test("workflow 2: type CUDA, see highlighted results, clear the search", async () => {
  const page = await openPage(browser, diagd.url);
  await ready(page, seeded);
  const cuda = variedLogs().filter((l) => /CUDA/i.test(l.message + l.stackTrace)).length;
  const box = page.getByRole("searchbox");
  await box.click();
  await page.keyboard.type("CUDA", { delay: 60 });
  await page.getByText(`${cuda} matching logs for “CUDA”`, { exact: false }).waitFor();
  assert.equal(await rows(page).count(), cuda);
  const marks = await page.locator(".log-list mark").allInnerTexts();
  assert.ok(marks.length >= cuda && marks.every((m) => m.toLowerCase() === "cuda"), JSON.stringify(marks));
  await screenshot(page, "logs-search");
  // The README's picture: the search with the newest match opened.
  await rows(page).first().getByRole("button").click();
  await page.getByRole("region", { name: "Log details" }).getByRole("heading", { name: "Stack trace" }).waitFor();
  await screenshot(page, "logs-dashboard");
  await rows(page).first().getByRole("button").click();
  // A term found nowhere says what was searched and which filters apply.
  await box.fill("no-such-term-anywhere");
  await page.getByRole("heading", { name: "No logs match “no-such-term-anywhere”" }).waitFor();
  await page.getByRole("button", { name: "Clear the search" }).click();
  await page.getByText(`${seeded} logs shown of ${seeded}`).waitFor();
  assert.equal(await box.inputValue(), "");
  assert.equal(await page.locator(".log-list mark").count(), 0);
  await page.context().close();
});

test("workflow 3: generate a report and download it", async () => {
  const page = await openPage(browser, diagd.url);
  await ready(page, seeded);
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("button", { name: "Generate Report" }).click(),
  ]);
  const path = await download.path();
  const report = JSON.parse(readFileSync(path, "utf8"));
  const notice = await page.locator(".notice.ok").first().innerText();
  const [, id, count] = /Report (\S+) generated with (\d+) errors/.exec(notice) ?? [];
  assert.ok(id, notice);
  assert.equal(Number(count), seeded);
  assert.ok(JSON.stringify(report).includes(id), "the downloaded report carries its id");
  assert.match(download.suggestedFilename(), /\.json$/);
  const listed = await diagd.client().listReports({});
  assert.ok(listed.reports.some((r) => r.reportId === id && Number(r.errorCount) === seeded));
  await page.context().close();
});

test("workflow 4: debug mode switches at once and follows switches made elsewhere", async () => {
  const page = await openPage(browser, diagd.url);
  await ready(page);
  const toggle = page.getByRole("switch", { name: /Debug Mode/ });
  await page.waitForFunction(() => !document.querySelector<HTMLButtonElement>(".debug-switch")?.disabled);
  assert.equal(await toggle.getAttribute("aria-checked"), "false");
  await toggle.click();
  await page.waitForFunction(() => document.querySelector(".debug-switch")?.getAttribute("aria-checked") === "true");
  assert.equal((await diagd.client().getDebugMode({})).debugMode?.enabled, true);
  await toggle.getByText("ON").waitFor();
  // Switched off through the API: the page follows (WatchDebugMode).
  await diagd.client().setDebugMode({ enabled: false, changedBy: "test" });
  await page.waitForFunction(() => document.querySelector(".debug-switch")?.getAttribute("aria-checked") === "false", null, { timeout: 5000 });
  await page.context().close();
});

test("live: a log reported during the test appears at the top", async () => {
  const page = await openPage(browser, diagd.url);
  await ready(page);
  await page.getByRole("switch", { name: "Live" }).click();
  await page.getByText("Live: new logs appear at the top.").waitFor();
  await diagd.client().reportError({
    log: newLog({ severity: Severity.MEDIUM, errorType: ErrorType.TRAINING, message: "live test: dataloader worker 3 exited unexpectedly" }),
  });
  await page.locator(".log-list .log-row.live").filter({ hasText: "dataloader worker 3 exited" }).waitFor({ timeout: 10_000 });
  const first = await page.locator('.log-list .log-row[data-index="0"]').innerText();
  assert.match(first, /dataloader worker 3 exited/);
  seeded += 1;
  await page.context().close();
});

test("deep link: search, severity and the opened log come back from the URL", async () => {
  const client = diagd.client();
  const page = await client.listLogs({ filter: { severities: [Severity.CRITICAL], errorTypes: [ErrorType.NETWORK] }, pageSize: 1 });
  const id = page.logs[0].id;
  const view = await openPage(browser, `${diagd.url}/#/logs?q=NCCL&severity=critical&log=${id}`);
  await view.getByRole("region", { name: "Log details" }).getByText("NCCL watchdog thread terminated").first().waitFor();
  assert.equal(await view.getByRole("searchbox").inputValue(), "NCCL");
  assert.equal(await view.getByRole("region", { name: "Stats" }).getByRole("button", { name: /^Critical/ }).getAttribute("aria-pressed"), "true");
  await view.getByText(/matching logs for “NCCL”/).waitFor();
  assert.equal(await view.locator(`.log-row[data-log-id="${id}"] button`).getAttribute("aria-expanded"), "true");
  // Back closes what was opened after the link.
  await view.locator(".log-row").first().getByRole("button").press("Enter");
  await view.context().close();
});

test("keyboard only: search, move through rows with the arrow keys, open one with Enter", async () => {
  const page = await openPage(browser, diagd.url);
  await ready(page);
  // Every status the list shows while the search runs, with the rows shown at
  // that moment (a MutationObserver sees each change, even one that lasts a
  // single render): the status never claims rows that are not the query's.
  await page.evaluate(() => {
    const seen: { status: string; rows: string[] }[] = [];
    (window as unknown as { statuses: typeof seen }).statuses = seen;
    const status = document.querySelector(".list-status")!;
    new MutationObserver(() =>
      seen.push({
        status: status.textContent ?? "",
        rows: [...document.querySelectorAll(".log-list .log-row")].map((r) => r.textContent ?? ""),
      }),
    ).observe(status, { childList: true, characterData: true, subtree: true });
  });
  await page.getByRole("searchbox").focus();
  await page.keyboard.type("nan");
  await page.getByText(/matching logs for “nan”/).waitFor();
  const statuses = await page.evaluate(() => (window as unknown as { statuses: { status: string; rows: string[] }[] }).statuses);
  for (const { status, rows } of statuses.filter((s) => /matching logs? for “nan”/.test(s.status))) {
    assert.equal(rows.length, Number(status.split(" ")[0]), `"${status}" shows ${rows.length} rows`);
    for (const row of rows) assert.match(row, /nan/i, `"${status}" shows a row without "nan": ${row.slice(0, 80)}`);
  }
  await page.locator(".log-row button").first().focus();
  await page.keyboard.press("ArrowDown");
  await page.waitForFunction(() => document.activeElement?.closest("[data-index]")?.getAttribute("data-index") === "1");
  await page.keyboard.press("Enter");
  await page.getByRole("region", { name: "Log details" }).getByText("FloatingPointError").first().waitFor();
  await page.context().close();
});

test("accessibility: no serious or critical axe violations, light and dark", async () => {
  for (const scheme of ["light", "dark"] as const) {
    const page = await openPage(browser, diagd.url, scheme);
    await ready(page);
    assert.deepEqual(await accessibilityViolations(page), [], `dashboard (${scheme})`);
    await page.locator(".log-row button").first().click();
    await page.getByRole("region", { name: "Log details" }).getByRole("heading", { name: "What to try" }).waitFor();
    await page.getByRole("button", { name: /^Filters/ }).click();
    assert.deepEqual(await accessibilityViolations(page), [], `expanded log and filters (${scheme})`);
    await screenshot(page, `logs-${scheme}`);
    assert.deepEqual(await cspViolations(page), [], "nothing the page does is blocked by its CSP");
    await page.context().close();
  }
});

test("a narrow window stacks the page and keeps it usable", async () => {
  const context = await browser.newContext({ viewport: { width: 400, height: 800 } });
  const page = await context.newPage();
  await page.goto(diagd.url);
  await ready(page);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 1, `no horizontal scrolling at 400 px (${overflow} px too wide)`);
  await screenshot(page, "logs-narrow");
  await context.close();
});

test("workflow 5: export, then clear with the dialog and see zero", async () => {
  const page = await openPage(browser, diagd.url);
  await ready(page, seeded);
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Export" }).click()]);
  const exported = JSON.parse(readFileSync(await download.path(), "utf8"));
  const logs = Array.isArray(exported) ? exported : exported.logs;
  assert.equal(logs.length, seeded);
  assert.match(download.suggestedFilename(), /^diagd-logs-.*\.json$/);
  await page.getByText(`Exported ${seeded} logs to ${download.suggestedFilename()}`).waitFor();

  await page.getByRole("button", { name: "Clear", exact: true }).click();
  const dialog = page.getByRole("dialog", { name: "Clear logs?" });
  await dialog.getByText(`This deletes ${seeded} logs`).waitFor();
  await screenshot(page, "logs-clear-dialog");
  await dialog.getByRole("button", { name: `Delete ${seeded} logs` }).click();
  await page.getByText(new RegExp(`Deleted ${seeded} logs\\. Exported ${seeded} first`)).waitFor();
  await page.waitForFunction(() => document.querySelector('[data-testid="stat-total"]')?.textContent === "0");
  await page.getByRole("heading", { name: "No logs to show" }).waitFor();
  assert.equal((await diagd.client().getStats({})).total, 0n);
  await page.context().close();
});

test("a read-only token sees Clear and Debug Mode disabled, with the reason", async () => {
  const secured = await startDiagd({ readTokens: ["read-secret"], adminTokens: ["admin-secret"] });
  try {
    const page = await openPage(browser, secured.url);
    await page.getByLabel("Token").fill("read-secret");
    await page.getByRole("button", { name: "Sign in" }).click();
    await ready(page);
    const clear = page.getByRole("button", { name: /^Clear/ }).first();
    assert.equal(await clear.isDisabled(), true);
    assert.match((await clear.getAttribute("title")) ?? "", /admin role; your token has the read role/);
    const debug = page.getByRole("switch", { name: /Debug Mode/ });
    assert.equal(await debug.isDisabled(), true);
    assert.match(await debug.innerText(), /Debug Mode/);
    // Reading still works.
    await page.getByRole("button", { name: "Export" }).waitFor();
    assert.equal(await page.getByRole("button", { name: "Export" }).isDisabled(), false);
    await page.context().close();
  } finally {
    await secured.stop();
  }
});
