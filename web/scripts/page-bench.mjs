// Runs bench/page-bench.ts (bundled with esbuild into .e2e/): the browser half
// of `diagd bench --only page`. Usage: node scripts/page-bench.mjs <diagd URL>
import * as esbuild from "esbuild";
import { join, dirname } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outfile = join(root, ".e2e", "page-bench.mjs");
await esbuild.build({
  absWorkingDir: root,
  entryPoints: ["bench/page-bench.ts"],
  outfile,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  packages: "external",
  logLevel: "warning",
});
await import(pathToFileURL(outfile).href);
