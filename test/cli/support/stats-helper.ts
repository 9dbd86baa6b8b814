// The helper bundle the CLI tests deploy: dist/helper as `make build` made it, and, while
// provider/helper/ops.ts does not register the `stats` op yet, the same bundle rebuilt
// with `stats: { one: stats }` added to the op table (test-only; the product line is one
// entry in ops.ts). Everything else (koffi, BPF objects) is dist/helper's.
import * as esbuild from "esbuild";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "..", "..", "..");
const DIST_HELPER = path.join(ROOT, "dist", "helper");
const OPS = path.join(ROOT, "provider", "helper", "ops.ts");

export function opsRegistersStats(): boolean {
  return /["']?stats["']?\s*:\s*\{\s*one:\s*stats\b/.test(fs.readFileSync(OPS, "utf8"));
}

/** A directory to use as HVNET_HELPER_DIR; remove it with fs.rmSync when done. */
export async function statsHelperBundle(): Promise<{ dir: string; patched: boolean }> {
  if (!fs.existsSync(path.join(DIST_HELPER, "helper.js"))) throw new Error(`${DIST_HELPER} is missing: run 'make build' first`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hvnet-cli-helper-"));
  try {
    fs.cpSync(DIST_HELPER, dir, { recursive: true });
    if (!opsRegistersStats()) await buildPatched(dir);
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return { dir, patched: !opsRegistersStats() };
}

async function buildPatched(dir: string): Promise<void> {
  await esbuild.build({
    entryPoints: [path.join(ROOT, "provider", "helper", "main.ts")],
    bundle: true,
    platform: "node",
    target: "node20",
    format: "cjs",
    external: ["koffi"],
    outfile: path.join(dir, "helper.js"),
    logLevel: "warning",
    plugins: [
      {
        name: "register-stats-op",
        setup(build) {
          build.onLoad({ filter: /provider[\\/]helper[\\/]ops\.ts$/ }, (args) => {
            const src = fs.readFileSync(args.path, "utf8").replace(/export function opTable\(/, "function baseOpTable(");
            const extra = [
              `import { stats as statsOp } from "./resources/stats";`,
              `export function opTable(...a: Parameters<typeof baseOpTable>): ReturnType<typeof baseOpTable> {`,
              `  return { ...baseOpTable(...a), stats: { one: statsOp } };`,
              `}`,
            ].join("\n");
            return { contents: `${src}\n${extra}\n`, loader: "ts" };
          });
        },
      },
    ],
  });
}
