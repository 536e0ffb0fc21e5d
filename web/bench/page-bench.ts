// `diagd bench --only page`'s browser half: against a diagd that already
// holds the bench's logs (its URL is the first argument), measures with the
// browser's Performance API:
//   - first meaningful paint: navigation start to the `diagd:first-page`
//     mark (the dashboard's counts and the first page of logs rendered), in
//     a fresh context each time (no cache);
//   - search as you type: queries typed at ~8 keys/s; from the last
//     keystroke's input event to the `diagd:search-results` mark of that
//     query (results or "no results" rendered);
//   - the live list: Live on, then this script prints LIVE_READY and
//     src/bench/page.rs reports 200 logs/s for 10 s (ReportError over HTTP/2)
//     and answers "LIVE_SENT <n>" on stdin; frames are counted with
//     requestAnimationFrame, long tasks with a PerformanceObserver, logs
//     shown from the `diagd:live-shown` marks.
// Prints one JSON line (read by src/bench/page.rs); progress goes to stderr.
import { createInterface } from "node:readline";
import { launchBrowser } from "../tests/harness";

const url = process.argv[2];
if (!url) throw new Error("usage: page-bench <diagd URL>");
const browser = await launchBrowser();
const log = (s: string) => process.stderr.write(`page-bench: ${s}\n`);

async function freshPage() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await context.addInitScript(() => {
    const w = window as unknown as Record<string, unknown>;
    w.__lastInput = 0;
    document.addEventListener("input", () => (w.__lastInput = performance.now()), true);
  });
  return { context, page: await context.newPage() };
}

async function markTime(page: import("playwright-core").Page, name: string, detail?: unknown, timeout = 30_000) {
  const handle = await page.waitForFunction(
    ([name, detail]) => {
      const marks = performance.getEntriesByName(name, "mark") as PerformanceMark[];
      const found = marks.find((m) => detail === undefined || m.detail === detail);
      return found ? found.startTime : null;
    },
    [name, detail] as const,
    { timeout, polling: 5 },
  );
  return (await handle.jsonValue()) as number;
}

// 1. First meaningful paint, 5 cold loads.
const firstPaint: number[] = [];
for (let i = 0; i < 5; i++) {
  const { context, page } = await freshPage();
  await page.goto(url);
  firstPaint.push(await markTime(page, "diagd:first-page"));
  await context.close();
}
log(`first paint: ${firstPaint.map((v) => v.toFixed(0)).join(", ")} ms`);

// 2. Search as you type: each query typed from an empty box.
const queries = [
  "CUDA", "NCCL watchdog", "flash_attn_func", "out of memory", "checkpoint", "tokenizer",
  "ConnectionResetError", "nan loss", "deepspeed", "no-such-term-xyz", "\"Tried to allocate\"",
  "optimizer step", "safetensors", "timeout", "RuntimeError", "rank 3", "gloo", "KeyError",
  "dataloader worker", "cudnn",
];
const search: number[] = [];
{
  const { context, page } = await freshPage();
  await page.goto(url);
  await markTime(page, "diagd:first-page");
  const box = page.getByRole("searchbox").first();
  for (const query of queries) {
    await box.fill("");
    await page.waitForTimeout(300);
    await box.click();
    await page.keyboard.type(query, { delay: 120 });
    const lastInput = (await page.evaluate(() => (window as unknown as { __lastInput: number }).__lastInput)) as number;
    const shown = await markTime(page, "diagd:search-results", query);
    search.push(Math.max(0, shown - lastInput));
  }
  await context.close();
}
log(`search: ${search.map((v) => v.toFixed(0)).join(", ")} ms`);

// 3. The live list while the bench reports 200 logs/s for 10 s.
const stdinLines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const { context, page } = await freshPage();
await page.goto(url);
await markTime(page, "diagd:first-page");
await page.getByRole("switch", { name: /live/i }).first().click();
await markTime(page, "diagd:live-started");
await page.evaluate(() => {
  const w = window as unknown as Record<string, unknown>;
  const frames: number[] = [];
  let last = performance.now();
  let running = true;
  const tick = (now: number) => {
    frames.push(now - last);
    last = now;
    if (running) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  let longTasks = 0;
  try {
    new PerformanceObserver((list) => (longTasks += list.getEntries().length)).observe({ type: "longtask" });
  } catch {
    /* not supported */
  }
  // What the long frames spent their time on (Long Animation Frames API):
  // script (by what invoked it), style and layout, and the rest (paint,
  // or the renderer waiting for a CPU).
  const slow: string[] = [];
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries() as unknown as {
        duration: number;
        renderStart: number;
        styleAndLayoutStart: number;
        startTime: number;
        scripts: { invoker: string; duration: number; forcedStyleAndLayoutDuration: number }[];
      }[]) {
        const script = e.scripts.reduce((t, s) => t + s.duration, 0);
        const layout = e.styleAndLayoutStart ? e.startTime + e.duration - e.styleAndLayoutStart : 0;
        const invokers = e.scripts
          .filter((s) => s.duration >= 5)
          .map((s) => `${s.invoker} ${s.duration.toFixed(0)}ms`)
          .join(", ");
        slow.push(
          `${e.duration.toFixed(0)} ms: script ${script.toFixed(0)}, style+layout ${layout.toFixed(0)}, other ${(e.duration - script - layout).toFixed(0)}${invokers ? ` (${invokers})` : ""}`,
        );
      }
    }).observe({ type: "long-animation-frame" });
  } catch {
    /* not supported */
  }
  w.__stopFrames = () => {
    running = false;
    return { frames, longTasks, slow };
  };
});
console.log("LIVE_READY");
const answer = (await stdinLines.next()).value ?? "";
const sent = Number(/LIVE_SENT (\d+)/.exec(answer)?.[1] ?? 0);
// Let the last ones arrive.
const deadline = Date.now() + 5000;
let shown = 0;
while (Date.now() < deadline) {
  shown = await page.evaluate(() => {
    const marks = performance.getEntriesByName("diagd:live-shown", "mark") as PerformanceMark[];
    return marks.length ? Number(marks[marks.length - 1].detail) : 0;
  });
  if (shown >= sent) break;
  await page.waitForTimeout(100);
}
const { frames, longTasks, slow } = (await page.evaluate(() =>
  (window as unknown as { __stopFrames: () => { frames: number[]; longTasks: number; slow: string[] } }).__stopFrames(),
)) as { frames: number[]; longTasks: number; slow: string[] };
for (const line of slow) log(`long animation frame ${line}`);
await context.close();
await browser.close();
process.stdin.destroy();
log(`live: ${shown} of ${sent} shown, ${frames.length} frames`);

console.log(
  JSON.stringify({
    first_paint_ms: firstPaint,
    search_ms: search,
    search_queries: queries,
    live: {
      shown,
      frames: frames.length,
      long_frames: frames.filter((f) => f > 50).length,
      longest_frame_ms: Math.max(0, ...frames),
      long_tasks: longTasks,
    },
  }),
);
