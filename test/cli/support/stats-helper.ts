// The helper bundle the CLI tests deploy: a private copy of dist/helper as `make build` made
// it, so a rebuild of dist/ by another test run never changes the bundle under a running test.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const DIST_HELPER = path.resolve(__dirname, "..", "..", "..", "dist", "helper");

/** A directory to use as HVNET_HELPER_DIR; remove it with fs.rmSync when done. */
export async function statsHelperBundle(): Promise<{ dir: string }> {
  if (!fs.existsSync(path.join(DIST_HELPER, "helper.js"))) throw new Error(`${DIST_HELPER} is missing: run 'make build' first`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hvnet-cli-helper-"));
  try {
    fs.cpSync(DIST_HELPER, dir, { recursive: true });
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return { dir };
}
