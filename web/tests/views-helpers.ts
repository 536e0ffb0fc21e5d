// What the browser tests of the Groups, Runs, Reports and Alerts views
// share: one browser for a file, signing in with a token, opening a view by
// its deep link, and asserting axe-core finds no serious or critical
// violations (and that the page's Content-Security-Policy blocked nothing).
import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
import { accessibilityViolations, cspViolations, openPage } from "./harness";

/** Opens `url` (the page's origin), signs in with `token` when given, and goes to `hash`. */
export async function openView(
  browser: Browser,
  url: string,
  hash: string,
  { token, colorScheme = "light", width }: { token?: string; colorScheme?: "light" | "dark"; width?: number } = {},
): Promise<Page> {
  const page = await openPage(browser, `${url}/${hash}`, colorScheme);
  if (width) await page.setViewportSize({ width, height: 800 });
  if (token) {
    await page.getByLabel("Token").fill(token);
    await page.getByRole("button", { name: "Sign in" }).click();
  }
  await page.getByRole("navigation", { name: "Views" }).waitFor();
  return page;
}

/** Fails with axe-core's serious and critical findings, or what the CSP blocked, if any. */
export async function assertAccessible(page: Page, where: string): Promise<void> {
  const violations = await accessibilityViolations(page);
  assert.deepEqual(violations, [], `${where}: axe-core found serious or critical violations`);
  assert.deepEqual(await cspViolations(page), [], `${where}: the page's Content-Security-Policy blocked something`);
}

/** Waits until `check` holds (polling what the server says, not the clock). */
export async function eventually<T>(check: () => Promise<T | undefined | false>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
