// The helper's state modules read HVNET_STATE_DIR once, when they load. A test file that
// needs a state directory of its own calls this at the top: the variable points at a fresh
// directory before the file's beforeAll hooks load the modules under test (registered after
// this, so they run after it), and everything is put back afterwards.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export interface PrivateState {
  /** The directory, once the suite's hooks have run. */
  readonly dir: string;
}

export function privateStateDir(tag: string, opts: { clearRegistryAfterEach?: boolean } = {}): PrivateState {
  const saved = process.env.HVNET_STATE_DIR;
  let dir = "";
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), `hvt-${tag}-`));
    process.env.HVNET_STATE_DIR = dir;
    const paths: typeof import("../../provider/helper/state/paths") = require("../../provider/helper/state/paths");
    if (paths.STATE_ROOT !== dir) throw new Error(`state modules loaded too early: STATE_ROOT is ${paths.STATE_ROOT}`);
  });
  if (opts.clearRegistryAfterEach) {
    // Each test starts with no records; the registry prunes its own directories when empty.
    afterEach(() => fs.rmSync(path.join(dir, "registry"), { recursive: true, force: true }));
  }
  afterAll(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    if (saved === undefined) delete process.env.HVNET_STATE_DIR;
    else process.env.HVNET_STATE_DIR = saved;
  });
  return {
    get dir() {
      return dir;
    },
  };
}
