// The Reports view in Chromium against a real diagd: a report generated
// through the client is listed (id, time, error count), downloads as its
// JSON file (the DownloadReport stream), and is deleted after the dialog
// asks; a read-only token sees Delete disabled with the reason.
// Screenshot: reports.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import type { Browser } from "playwright-core";
import { launchBrowser, newLog, screenshot, seed, startDiagd, type Diagd } from "./harness";
import { assertAccessible, openView } from "./views-helpers";

let browser: Browser;
let diagd: Diagd;

before(async () => {
  browser = await launchBrowser();
  diagd = await startDiagd({ readTokens: ["read-secret"], adminTokens: ["admin-secret"] });
});
after(async () => {
  await browser?.close();
  await diagd?.stop();
});

test("a generated report is listed, downloads as JSON and is deleted after confirming", async () => {
  const client = diagd.client("admin-secret");
  await seed(client, [newLog(), newLog(), newLog({ message: "NCCL error: unhandled system error" })]);
  const report = (await client.generateReport({})).report!;
  assert.equal(report.errorCount, 3n);

  const page = await openView(browser, diagd.url, "#/reports", { token: "admin-secret" });
  const row = page.locator(`tr[data-report="${report.reportId}"]`);
  await row.waitFor();
  assert.match(await row.locator('td[data-label="Errors"]').innerText(), /^3$/);
  assert.match(await row.locator('td[data-label="Created"]').innerText(), /\d{2}:\d{2}:\d{2}/);
  await assertAccessible(page, "reports");
  await screenshot(page, "reports");

  const [download] = await Promise.all([
    page.waitForEvent("download"),
    row.getByRole("button", { name: `Download report ${report.reportId}` }).click(),
  ]);
  assert.equal(download.suggestedFilename(), `diagnostic-report-${report.reportId}.json`);
  const body = JSON.parse(await readFile((await download.path())!, "utf8"));
  assert.ok(JSON.stringify(body).includes(report.reportId), "the downloaded document names its report");
  await page.getByText(`Downloaded diagnostic-report-${report.reportId}.json.`).waitFor();

  await row.getByRole("button", { name: `Delete report ${report.reportId}` }).click();
  const dialog = page.getByRole("dialog", { name: "Delete this report?" });
  await dialog.waitFor();
  await assertAccessible(page, "delete report dialog");
  await dialog.getByRole("button", { name: "Delete report" }).click();
  await row.waitFor({ state: "detached" });
  await page.getByText("No reports yet.").waitFor();
  assert.equal((await client.listReports({})).reports.length, 0);
  await page.context().close();
});

test("a read-only token may download but not delete, and is told why", async () => {
  const client = diagd.client("admin-secret");
  const report = (await client.generateReport({})).report!;
  const page = await openView(browser, diagd.url, "#/reports", { token: "read-secret" });
  const row = page.locator(`tr[data-report="${report.reportId}"]`);
  await row.waitFor();
  assert.equal(await row.getByRole("button", { name: /^Delete report/ }).isDisabled(), true);
  assert.equal(await row.getByRole("button", { name: /^Download report/ }).isDisabled(), false);
  await page.getByText("Delete: Needs the admin role; your token has the read role.").waitFor();
  await page.context().close();
});
