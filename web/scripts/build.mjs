// Builds the page into dist/ (committed; embedded in the diagd binary):
// dist/index.html and dist/assets/app-<hash>.{js,css}, minified, the names
// derived from the content so browsers may cache them for good.
//   node scripts/build.mjs          build into dist/
//   node scripts/build.mjs --check  build into a temporary folder and fail when
//                                   it differs from the committed dist/, or
//                                   when the bundle is over its size budget
import * as esbuild from "esbuild";
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, statSync } from "node:fs";
import { join, dirname, relative } from "node:path";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const check = process.argv.includes("--check");
const BUDGET_GZIP = 250 * 1024; // the goal: < 250 KB gzipped in all

const out = check ? mkdtempSync(join(tmpdir(), "diagd-web-")) : join(root, "dist");
rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "assets"), { recursive: true });

const result = await esbuild.build({
  absWorkingDir: root,
  entryPoints: { app: "src/main.tsx" },
  bundle: true,
  minify: true,
  format: "esm",
  target: ["chrome110", "firefox115", "safari16"],
  jsx: "automatic",
  jsxImportSource: "preact",
  legalComments: "none",
  charset: "utf8",
  write: false,
  outdir: "assets",
  entryNames: "[name]-[hash]",
  logLevel: "warning",
  metafile: true,
});

const files = {};
for (const file of result.outputFiles) {
  const name = relative(join(root, "assets"), file.path);
  files[name] = file.contents;
}
const js = Object.keys(files).find((n) => n.endsWith(".js"));
const css = Object.keys(files).find((n) => n.endsWith(".css"));
if (!js) throw new Error("esbuild produced no JavaScript");

let html = readFileSync(join(root, "src/index.html"), "utf8");
html = html
  .replace("%APP_JS%", `/assets/${js}`)
  .replace("%APP_CSS%", css ? `<link rel="stylesheet" href="/assets/${css}">` : "");
for (const [name, contents] of Object.entries(files)) writeFileSync(join(out, "assets", name), contents);
writeFileSync(join(out, "index.html"), html);

// Sizes, and the budget.
let gz = 0;
const lines = [];
for (const name of readdirSync(join(out, "assets"))) {
  const data = readFileSync(join(out, "assets", name));
  const z = gzipSync(data, { level: 9 }).length;
  gz += z;
  lines.push(`  assets/${name}: ${(data.length / 1024).toFixed(1)} KiB, ${(z / 1024).toFixed(1)} KiB gzipped`);
}
console.log(lines.join("\n"));
console.log(`  total: ${(gz / 1024).toFixed(1)} KiB gzipped (budget ${BUDGET_GZIP / 1024} KiB)`);
if (gz > BUDGET_GZIP) {
  console.error(`the bundle is over its budget: ${gz} > ${BUDGET_GZIP} bytes gzipped`);
  process.exit(1);
}

if (check) {
  const digest = (dir) => {
    const h = {};
    const walk = (d) => {
      for (const e of readdirSync(d)) {
        const p = join(d, e);
        if (statSync(p).isDirectory()) walk(p);
        else h[relative(dir, p)] = createHash("sha256").update(readFileSync(p)).digest("hex");
      }
    };
    walk(dir);
    return h;
  };
  const want = digest(out);
  const have = digest(join(root, "dist"));
  const names = new Set([...Object.keys(want), ...Object.keys(have)]);
  const differ = [...names].filter((n) => want[n] !== have[n]).sort();
  rmSync(out, { recursive: true, force: true });
  if (differ.length) {
    console.error(`web/dist does not match web/src (rebuild with \`cd web && npm ci && npm run build\` and commit):\n  ${differ.join("\n  ")}`);
    process.exit(1);
  }
  console.log("web/dist matches its sources");
}
