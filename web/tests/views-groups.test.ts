// The Groups view in Chromium against a real diagd: 8 OOM logs of one
// traceback are one group with count 8; filters and the text search; a
// group's page (latest event, histogram, why grouped, hosts and runs);
// writing the note and resolving persist (GetGroup); ignore for N events,
// merge and split; a read-only token sees the admin actions disabled with
// the reason. Screenshots: groups-list, group-page (and narrow/dark ones).
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import type { Browser } from "playwright-core";
import { GroupStatus } from "../src/gen/diagnostics/v1/diagnostics_pb";
import { ErrorType, Severity, launchBrowser, newLog, screenshot, seed, startDiagd, type Diagd } from "./harness";
import { assertAccessible, openView } from "./views-helpers";

let browser: Browser;
let diagd: Diagd;
let oomGroup: bigint;
let netGroup: bigint;

before(async () => {
  browser = await launchBrowser();
  diagd = await startDiagd({ readTokens: ["read-secret"], adminTokens: ["admin-secret"] });
  const client = diagd.client("admin-secret");
  const oom = Array.from({ length: 8 }, (_, i) =>
    newLog({
      severity: i === 7 ? Severity.CRITICAL : Severity.HIGH,
      source: { host: `gpu-node-0${(i % 2) + 1}`, runId: "llama-ft-42", component: "trainer", labels: {} } as never,
    }),
  );
  const network = [0, 1].map(() =>
    newLog({
      severity: Severity.MEDIUM,
      errorType: ErrorType.NETWORK,
      message: "Connection to huggingface.co timed out after 30 s",
      stackTrace: "",
      source: { host: "gpu-node-03", runId: "bert-eval-7", component: "loader", labels: {} } as never,
    }),
  );
  const ids = await seed(client, [...oom, ...network]);
  oomGroup = (await client.getLog({ id: ids[0] })).log!.groupId;
  netGroup = (await client.getLog({ id: ids[8] })).log!.groupId;
  assert.notEqual(oomGroup, netGroup);
});
after(async () => {
  await browser?.close();
  await diagd?.stop();
});

test("the list shows the groups of the seeded logs, filters them and keeps the filters in the URL", async () => {
  const page = await openView(browser, diagd.url, "#/groups", { token: "admin-secret" });
  const table = page.locator("table.groups-table");
  const oomRow = table.locator("tbody tr", { hasText: "OutOfMemoryError" });
  await oomRow.waitFor();
  assert.equal((await oomRow.locator('td[data-label="Events"]').innerText()).trim(), "8");
  assert.match(await oomRow.innerText(), /unresolved/);
  assert.match(await oomRow.innerText(), /2 hosts · 1 run/);
  await oomRow.locator("svg.sparkline").waitFor();
  assert.match((await oomRow.locator("svg.sparkline").getAttribute("aria-label")) ?? "", /8 in all/);
  assert.equal(await table.locator("tbody tr").count(), 2);
  await assertAccessible(page, "groups list");
  await screenshot(page, "groups-list");

  await page.getByLabel("Title or culprit contains").fill("huggingface");
  await page.waitForFunction(() => location.hash.includes("q=huggingface"));
  await table.locator("tbody tr", { hasText: "OutOfMemoryError" }).waitFor({ state: "detached" });
  assert.equal(await table.locator("tbody tr").count(), 1);

  await page.getByLabel("Title or culprit contains").fill("");
  await page.waitForFunction(() => !location.hash.includes("q="));
  await table.locator("tbody tr", { hasText: "OutOfMemoryError" }).waitFor();
  await page.getByRole("checkbox", { name: "Critical" }).check();
  await page.waitForFunction(() => location.hash.includes("severity=critical"));
  await table.locator("tbody tr", { hasText: "huggingface" }).waitFor({ state: "detached" });
  assert.equal(await table.locator("tbody tr").count(), 1);
  await page.getByLabel("Sort by").selectOption("count");
  await page.waitForFunction(() => location.hash.includes("sort=count"));
  await page.context().close();

  // Narrow and dark: still readable and accessible.
  const narrow = await openView(browser, diagd.url, "#/groups", { token: "admin-secret", width: 400, colorScheme: "dark" });
  await narrow.locator("table.groups-table tbody tr", { hasText: "OutOfMemoryError" }).waitFor();
  await assertAccessible(narrow, "groups list, 400 px, dark");
  await screenshot(narrow, "groups-list-narrow-dark");
  await narrow.context().close();
});

test("a group's page: details, a note and resolving persist; ignore, merge and split", async () => {
  const page = await openView(browser, diagd.url, "#/groups", { token: "admin-secret" });
  await page.locator("table.groups-table a", { hasText: "OutOfMemoryError" }).click();
  await page.waitForFunction((id) => location.hash === `#/groups/${id}`, String(oomGroup));
  await page.getByRole("heading", { level: 1, name: /OutOfMemoryError/ }).waitFor();
  await page.getByRole("heading", { name: "Latest event" }).waitFor();
  await page.getByRole("heading", { name: "Why these logs are grouped" }).waitFor();
  assert.equal(await page.getByRole("link", { name: "Show logs of this group" }).getAttribute("href"), `#/logs?group=${oomGroup}`);
  assert.match((await page.getByRole("link", { name: "Open in Logs" }).getAttribute("href")) ?? "", /^#\/logs\?log=[0-9a-f-]{36}$/);
  assert.equal(await page.getByRole("link", { name: "Logs of this group from gpu-node-01" }).count(), 1);
  assert.equal(await page.getByRole("link", { name: "Run llama-ft-42" }).count(), 1);
  assert.match((await page.locator(".bar-chart svg").getAttribute("aria-label")) ?? "", /8 in all/);

  // The note (knowledge base), signed by a name, then Resolve.
  await page.getByLabel("Sign changes as").fill("ana");
  await page.getByRole("button", { name: "Write a note" }).click();
  await page.getByLabel("Cause and fix").fill("Batch size 64 does not fit in 80 GB: use 32 and gradient checkpointing.");
  await page.getByRole("button", { name: "Save note" }).click();
  await page.getByText("Written by ana").waitFor();
  await page.getByRole("button", { name: "Resolve" }).click();
  await page.getByRole("button", { name: "Reopen" }).waitFor();
  const client = diagd.client("admin-secret");
  let group = (await client.getGroup({ id: oomGroup })).group!;
  assert.equal(group.status, GroupStatus.RESOLVED);
  assert.equal(group.statusChangedBy, "ana");
  assert.equal(group.note?.text, "Batch size 64 does not fit in 80 GB: use 32 and gradient checkpointing.");
  assert.equal(group.note?.author, "ana");
  await assertAccessible(page, "group page");
  await screenshot(page, "group-page");
  await page.emulateMedia({ colorScheme: "dark" });
  await assertAccessible(page, "group page, dark");
  await screenshot(page, "group-page-dark");
  await page.emulateMedia({ colorScheme: "light" });

  // Ignore for the next 5 events.
  await page.getByRole("button", { name: "Ignore…" }).click();
  const ignore = page.getByRole("dialog", { name: "Ignore this group" });
  await ignore.getByRole("radio", { name: "For the next" }).check();
  await ignore.getByLabel("Number of events").fill("5");
  await assertAccessible(page, "ignore dialog");
  await ignore.getByRole("button", { name: "Ignore", exact: true }).click();
  await ignore.waitFor({ state: "hidden" });
  await page.getByText("for 5 more events").first().waitFor();
  group = (await client.getGroup({ id: oomGroup })).group!;
  assert.equal(group.status, GroupStatus.IGNORED);
  assert.equal(group.ignoredEventsLeft, 5n);

  // Merge the network group in, picked from the list.
  await page.getByRole("button", { name: "Merge…" }).click();
  const merge = page.getByRole("dialog", { name: `Merge groups into #${oomGroup}` });
  await merge.getByRole("checkbox", { name: new RegExp(`#${netGroup}`) }).check();
  await assertAccessible(page, "merge dialog");
  await screenshot(page, "group-merge-dialog");
  await merge.getByRole("button", { name: "Merge into this group" }).click();
  await page.getByText(/Merged group #\d+ into this one: 2 logs moved/).waitFor();
  group = (await client.getGroup({ id: oomGroup })).group!;
  assert.equal(group.eventCount, 10n);
  assert.equal(group.fingerprints, 2);

  // And split it out again.
  await page.getByRole("button", { name: "Split out into a new group" }).last().click();
  const split = page.getByRole("dialog", { name: "Split this fingerprint out?" });
  await split.getByRole("button", { name: "Split" }).click();
  await page.getByText(/Split into a new group: #\d+ \(\d+ logs moved\)/).waitFor();
  group = (await client.getGroup({ id: oomGroup })).group!;
  assert.equal(group.fingerprints, 1);
  await page.context().close();
});

test("a read-only token sees resolve and merge disabled, with the reason", async () => {
  const page = await openView(browser, diagd.url, `#/groups/${netGroup}`, { token: "read-secret" });
  await page.getByRole("heading", { level: 1 }).waitFor();
  const resolve = page.getByRole("button", { name: "Resolve" });
  await resolve.waitFor();
  assert.equal(await resolve.isDisabled(), true);
  assert.equal(await page.getByRole("button", { name: "Merge…" }).isDisabled(), true);
  assert.equal(await page.getByRole("button", { name: "Ignore…" }).isDisabled(), true);
  // The group was merged into the OOM group, whose page this is: its note is there, not editable.
  await page.getByText("was merged into this one").waitFor();
  assert.equal(await page.getByRole("button", { name: "Edit note" }).isDisabled(), true);
  await page.locator("#triage-why", { hasText: "Needs the admin role; your token has the read role." }).waitFor();
  assert.match((await resolve.getAttribute("aria-describedby")) ?? "", /triage-why/);
  await assertAccessible(page, "group page, read token");
  await page.context().close();
});

test("Load more continues the list with its next keyset page", async () => {
  const client = diagd.client("admin-secret");
  await seed(
    client,
    Array.from({ length: 50 }, (_, i) =>
      newLog({ errorType: ErrorType.CONFIGURATION, severity: Severity.LOW, stackTrace: "", message: `Unknown config key option_${String.fromCharCode(97 + (i % 26))}${String.fromCharCode(97 + Math.floor(i / 26))}` }),
    ),
  );
  const page = await openView(browser, diagd.url, "#/groups", { token: "admin-secret" });
  const rows = page.locator("table.groups-table tbody tr");
  await page.getByText("50 groups shown").waitFor();
  assert.equal(await rows.count(), 50);
  await page.getByRole("button", { name: "Load more" }).click();
  await page.getByText(/\d+ groups shown — all of them/).waitFor();
  const total = (await client.listGroups({ pageSize: 500 })).groups.length;
  assert.equal(await rows.count(), total);
  assert.ok(total > 50);
  await page.context().close();
});
