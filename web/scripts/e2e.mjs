// Runs the browser tests: bundles tests/*.test.ts (and what they import: the
// harness, the generated client) with esbuild into .e2e/, then runs them with
// node's test runner, one file at a time (each starts its own diagd).
//   node scripts/e2e.mjs [name-filter]
import * as esbuild from "esbuild";
import { readdirSync, rmSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { spawnSync } from "node:child_process";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const filter = process.argv[2] ?? "";
const tests = readdirSync(join(root, "tests"))
  .filter((f) => f.endsWith(".test.ts") && f.includes(filter))
  .map((f) => join("tests", f));
if (!tests.length) {
  console.error(`no tests match ${JSON.stringify(filter)}`);
  process.exit(1);
}
const out = join(root, ".e2e");
rmSync(out, { recursive: true, force: true });
await esbuild.build({
  absWorkingDir: root,
  entryPoints: tests,
  outdir: out,
  outExtension: { ".js": ".mjs" },
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  packages: "external",
  sourcemap: "inline",
  logLevel: "warning",
});
const files = readdirSync(out).filter((f) => f.endsWith(".test.mjs")).map((f) => join(out, f));
const run = spawnSync(
  process.execPath,
  ["--enable-source-maps", "--test", "--test-concurrency=1", "--test-reporter=spec", ...files],
  { cwd: root, stdio: "inherit" },
);
process.exit(run.status ?? 1);
