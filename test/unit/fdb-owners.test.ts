// The records of FDB entry owners (provider/helper/resources/fdb-owners.ts), on a temp
// state directory: what one request saves the next one reads, a request touches only the
// shards of its keys, records of another map (the table pinned anew) are dropped, and no
// owner left means no record left.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "hvt-fdb-owners-"));
process.env.HVNET_STATE_DIR = stateDir;
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { TableOwners, forgetTableOwners } = require("../../provider/helper/resources/fdb-owners");

const TABLE = "/sys/fs/bpf/hvnet/xdp/root/uplink0/maps/fdb";
const tableDir = path.join(stateDir, "registry", "fdb-owners", encodeURIComponent(TABLE));
/** The records on disk, as "<mapId>/<shard>.json". */
function records(): string[] {
  if (!fs.existsSync(tableDir)) return [];
  return fs.readdirSync(tableDir).flatMap((m) => fs.readdirSync(path.join(tableDir, m)).map((f) => `${m}/${f}`)).sort();
}
const key = (lastByte: number) => `00645254000001${lastByte.toString(16).padStart(2, "0")}`;

afterAll(() => fs.rmSync(stateDir, { recursive: true, force: true }));

test("owners and ops saved by one request are read back by the next", () => {
  const t = TableOwners.load(TABLE, 7);
  t.set(key(1), "p/a/FdbEntry/x", "op-00000001");
  t.set(key(2), "p/a/FdbTable/t", undefined);
  t.set(key(34), "p/a/FdbTable/t", undefined); // 34 % 32 = 2: the same shard as key(2)
  t.save();
  expect(records()).toEqual(["7/1.json", "7/2.json"]);
  const back = TableOwners.load(TABLE, 7);
  expect(back.get(key(1))).toEqual({ owner: "p/a/FdbEntry/x", op: "op-00000001" });
  expect(back.get(key(34))).toEqual({ owner: "p/a/FdbTable/t" });
  expect(back.get(key(3))).toBeUndefined();
  // The owner two entries share is stored once in their shard.
  const raw = JSON.parse(fs.readFileSync(path.join(tableDir, "7", "2.json"), "utf8"));
  expect(raw.owners).toEqual(["p/a/FdbTable/t"]);
});

test("a request rewrites only the shards of the keys it changed", () => {
  const before = fs.statSync(path.join(tableDir, "7", "1.json")).ino;
  const t = TableOwners.load(TABLE, 7);
  t.set(key(2), "p/b/FdbEntry/y", undefined);
  t.save();
  expect(fs.statSync(path.join(tableDir, "7", "1.json")).ino).toBe(before);
  expect(TableOwners.load(TABLE, 7).get(key(2))).toEqual({ owner: "p/b/FdbEntry/y" });
});

test("records of another map under the same pin count for nothing and are removed", () => {
  const other = TableOwners.load(TABLE, 8);
  expect(other.get(key(1))).toBeUndefined();
  expect(records()).toEqual([]);
});

test("restore puts back what was there; the last owner gone takes the records with it", () => {
  const t = TableOwners.load(TABLE, 9);
  t.set(key(1), "p/a/FdbEntry/x", undefined);
  t.save();
  const u = TableOwners.load(TABLE, 9);
  const prior = u.get(key(1));
  u.set(key(1), "p/b/FdbEntry/y", "op-b-000001");
  u.set(key(5), "p/b/FdbEntry/z", undefined);
  u.restore(key(1), prior);
  u.restore(key(5), undefined);
  u.save();
  expect(TableOwners.load(TABLE, 9).get(key(1))).toEqual({ owner: "p/a/FdbEntry/x" });
  expect(records()).toEqual(["9/1.json"]);
  const v = TableOwners.load(TABLE, 9);
  v.set(key(1), undefined, undefined); // written by a caller without an owner: nobody's now
  v.save();
  expect(records()).toEqual([]);
  expect(fs.existsSync(stateDir) ? fs.readdirSync(stateDir) : []).toEqual([]);
});

test("forgetTableOwners removes the table's records (for whoever removes the table)", () => {
  const t = TableOwners.load(TABLE, 10);
  t.set(key(1), "p/a/FdbEntry/x", undefined);
  t.set(key(9), "p/a/FdbEntry/w", undefined);
  t.save();
  expect(records()).toHaveLength(2);
  forgetTableOwners(TABLE);
  expect(records()).toEqual([]);
  expect(fs.existsSync(stateDir) ? fs.readdirSync(stateDir) : []).toEqual([]);
});
