// The page is served by diagd itself and reaches it over gRPC-Web: the
// dashboard's frame loads with no token configured, and with tokens the
// page asks for one, keeps it in sessionStorage and shows the role.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import type { Browser } from "playwright-core";
import { launchBrowser, openPage, screenshot, startDiagd, type Diagd } from "./harness";

let browser: Browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

test("diagd serves its page, with a strict CSP, and the page reaches diagd", async () => {
  const diagd: Diagd = await startDiagd();
  try {
    const response = await fetch(`${diagd.url}/`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-security-policy") ?? "", /default-src 'self'/);
    const page = await openPage(browser, diagd.url);
    await page.getByRole("navigation", { name: "Views" }).waitFor();
    assert.equal(await page.getByText("no access control").count(), 1);
    await screenshot(page, "smoke-open");
    await page.context().close();
  } finally {
    await diagd.stop();
  }
});

test("with tokens the page asks for one and shows the role; a wrong one is refused", async () => {
  const diagd = await startDiagd({ readTokens: ["read-secret"], adminTokens: ["admin-secret"] });
  try {
    const page = await openPage(browser, diagd.url);
    await page.getByLabel("Token").fill("wrong");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByText("That token is not valid.").waitFor();
    await page.getByLabel("Token").fill("read-secret");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByText("read", { exact: true }).waitFor();
    const stored = await page.evaluate(() => [sessionStorage.getItem("diagd.token"), localStorage.length]);
    assert.deepEqual(stored, ["read-secret", 0]);
    await page.context().close();
  } finally {
    await diagd.stop();
  }
});
