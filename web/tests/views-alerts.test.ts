// The Alerts view in Chromium against a real diagd and a local webhook
// receiver: a rule created through the form is listed; Send test shows what
// the receiver answered; a new error group's alert shows up in the
// deliveries; an EVENT_RATE rule's threshold and window, editing, disabling
// and deleting reach diagd; a read-only token is told alert rules need the
// admin role. Screenshot: alerts.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Browser } from "playwright-core";
import { AlertDeliveryState, AlertTrigger, Severity } from "../src/gen/diagnostics/v1/diagnostics_pb";
import { launchBrowser, newLog, screenshot, seed, startDiagd, type Diagd } from "./harness";
import { assertAccessible, eventually, openView } from "./views-helpers";

let browser: Browser;
let diagd: Diagd;
let receiver: Server;
let hookUrl: string;
const received: string[] = [];

before(async () => {
  browser = await launchBrowser();
  receiver = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      received.push(body);
      res.writeHead(200, { "content-type": "text/plain" }).end("ok");
    });
  });
  await new Promise<void>((ok) => receiver.listen(0, "127.0.0.1", ok));
  hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  diagd = await startDiagd({ readTokens: ["read-secret"], adminTokens: ["admin-secret"] });
});
after(async () => {
  await browser?.close();
  await diagd?.stop();
  await new Promise((ok) => receiver?.close(ok));
});

test("create a rule through the form, test it, see its delivery, edit, disable and delete rules", async () => {
  const client = diagd.client("admin-secret");
  const page = await openView(browser, diagd.url, "#/alerts", { token: "admin-secret" });
  await page.getByText("No alert rules yet.").waitFor();

  // A new-group rule for HIGH errors, to the local receiver, signed.
  await page.getByRole("button", { name: "New rule" }).click();
  const form = page.getByRole("dialog", { name: "New alert rule" });
  await form.getByLabel("Name").fill("oom-pager");
  await form.getByLabel("Trigger").selectOption({ label: "New error group" });
  await form.getByRole("checkbox", { name: "High" }).check();
  await form.getByLabel("URL").fill(hookUrl);
  await form.getByLabel("Signing secret (optional)").fill("s3cret");
  await assertAccessible(page, "new rule form");
  await screenshot(page, "alerts-rule-form");
  await form.getByRole("button", { name: "Add rule" }).click();
  await form.waitFor({ state: "hidden" });
  const row = page.locator('tr[data-rule="oom-pager"]');
  await row.waitFor();
  assert.match(await row.locator('td[data-label="Trigger"]').innerText(), /New error group/);
  assert.match(await row.locator('td[data-label="Destination"]').innerText(), /Webhook[\s\S]*127\.0\.0\.1[\s\S]*\(signed\)/);
  assert.match(await row.locator('td[data-label="Filters"]').innerText(), /severity high/);
  assert.match(await row.locator('td[data-label="Throttle"]').innerText(), /10 min/);
  const [rule] = (await client.listAlertRules({})).rules;
  assert.equal(rule.name, "oom-pager");
  assert.deepEqual(rule.filter?.severities, [Severity.HIGH]);
  assert.equal(rule.hasSecret, true);

  // Send test: the receiver's answer is shown.
  await row.getByRole("button", { name: "Send test of rule oom-pager" }).click();
  await page.getByText("delivered — the receiver answered 200.").waitFor();
  assert.equal(received.length, 1);
  assert.match(received[0], /"test":\s*true/);

  // A new group fires the rule; its delivery is listed.
  await seed(client, [newLog({ severity: Severity.HIGH })]);
  await eventually(
    async () =>
      (await client.listAlertDeliveries({})).deliveries.find((d) => d.state === AlertDeliveryState.DELIVERED),
    "the alert's delivery",
  );
  await page.getByRole("button", { name: "Refresh deliveries" }).click();
  const delivery = page.locator("table.deliveries-table tbody tr").first();
  await delivery.locator(".state-badge", { hasText: "delivered" }).waitFor();
  assert.match(await delivery.innerText(), /oom-pager/);
  assert.match(await delivery.locator('td[data-label="Attempts"]').innerText(), /1 · last: 200 OK/);

  // An EVENT_RATE rule: threshold and window.
  await page.getByRole("button", { name: "New rule" }).click();
  await form.getByLabel("Name").fill("storm");
  await form.getByLabel("Trigger").selectOption({ label: "Event rate" });
  await form.getByLabel("At least").fill("50");
  await form.getByLabel("logs within").fill("5");
  await form.getByLabel("Window unit").selectOption("min");
  await form.getByRole("radio", { name: "Slack-compatible incoming webhook" }).check();
  await form.getByLabel("URL").fill("https://hooks.slack.example/services/T0/B0/XYZ");
  await form.getByRole("button", { name: "Add rule" }).click();
  const storm = page.locator('tr[data-rule="storm"]');
  await storm.waitFor();
  assert.match(await storm.locator('td[data-label="Trigger"]').innerText(), /Event rate[\s\S]*≥ 50 in 5 min per group/);
  let stored = (await client.listAlertRules({})).rules.find((r) => r.name === "storm")!;
  assert.equal(stored.trigger, AlertTrigger.EVENT_RATE);
  assert.equal(stored.threshold, 50);
  assert.equal(stored.window?.seconds, 300n);
  await assertAccessible(page, "alerts");
  await screenshot(page, "alerts");
  const narrow = await openView(browser, diagd.url, "#/alerts", { token: "admin-secret", width: 400, colorScheme: "dark" });
  await narrow.locator('tr[data-rule="storm"]').waitFor();
  await assertAccessible(narrow, "alerts, 400 px, dark");
  await screenshot(narrow, "alerts-narrow-dark");
  await narrow.context().close();

  // Edit it: a higher threshold (URL and secret kept).
  await storm.getByRole("button", { name: "Edit rule storm" }).click();
  const edit = page.getByRole("dialog", { name: "Edit rule “storm”" });
  await edit.getByLabel("At least").fill("80");
  await edit.getByRole("button", { name: "Save rule" }).click();
  await storm.locator('td[data-label="Trigger"]', { hasText: "≥ 80 in 5 min" }).waitFor();
  stored = (await client.listAlertRules({})).rules.find((r) => r.name === "storm")!;
  assert.equal(stored.threshold, 80);
  assert.match(stored.url, /^https:\/\/hooks\.slack\.example\/…$/, "the URL is kept (shown up to its host)");

  // Disable it with its switch.
  await storm.getByRole("switch", { name: "Rule storm enabled" }).uncheck();
  await page.getByText("Rule “storm” disabled.").waitFor();
  stored = (await client.listAlertRules({})).rules.find((r) => r.name === "storm")!;
  assert.equal(stored.disabled, true);

  // Delete both, confirming each.
  for (const name of ["storm", "oom-pager"]) {
    await page.getByRole("button", { name: `Delete rule ${name}` }).click();
    const dialog = page.getByRole("dialog", { name: "Delete this rule?" });
    await dialog.getByRole("button", { name: "Delete rule" }).click();
    await page.locator(`tr[data-rule="${name}"]`).waitFor({ state: "detached" });
  }
  assert.equal((await client.listAlertRules({})).rules.length, 0);
  await page.getByText("No alert rules yet.").waitFor();
  await page.context().close();
});

test("a read-only token is told that alert rules need the admin role", async () => {
  const page = await openView(browser, diagd.url, "#/alerts", { token: "read-secret" });
  await page.getByText("Alert rules need the admin role").waitFor();
  assert.equal(await page.getByRole("button", { name: "New rule" }).count(), 0);
  await assertAccessible(page, "alerts, read token");
  await page.context().close();
});
