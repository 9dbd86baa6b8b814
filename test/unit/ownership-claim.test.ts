// claimAndMake: a failed create that left nothing takes its owner record back (the host is
// as it was); one that left the object partly made keeps it, so the next up converges it.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "hvnet-owner-"));
process.env.HVNET_STATE_DIR = root;
// eslint-disable-next-line @typescript-eslint/no-var-requires
const O: typeof import("../../provider/helper/state/ownership") = require("../../provider/helper/state/ownership");

afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const who = { owner: "p/s/XdpProgram/x", op: "0123456789ab", adopt: false };
const fail = () => {
  throw new Error("kernel said no");
};

test("a failed create that left nothing leaves no record and no directory", () => {
  const store = O.ownerStore("test");
  expect(() => O.claimAndMake(store, "k1", "thing k1", false, who, fail, () => false)).toThrow("kernel said no");
  expect(store.read("k1")).toBeUndefined();
  expect(fs.existsSync(root) ? fs.readdirSync(root) : []).toEqual([]);
});

test("a failed create that left the object keeps the claim for the retry to converge", () => {
  const store = O.ownerStore("test");
  expect(() => O.claimAndMake(store, "k2", "thing k2", false, who, fail, () => true)).toThrow("kernel said no");
  expect(store.read("k2")).toMatchObject({ owner: who.owner, op: who.op });
  expect(O.claimAndMake(store, "k2", "thing k2", true, who, (claim) => claim, () => true)).toBe("converge");
  store.drop("k2");
});
