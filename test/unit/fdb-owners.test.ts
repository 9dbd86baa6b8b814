// The per-table record of FDB entry owners (provider/helper/resources/fdb-owners.ts), on a
// temp state directory: what one request saves the next one reads, a record of another
// map (the table pinned anew) counts for nothing, and no owner left means no record left.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "hvt-fdb-owners-"));
process.env.HVNET_STATE_DIR = stateDir;
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { TableOwners, forgetTableOwners } = require("../../provider/helper/resources/fdb-owners");

const TABLE = "/sys/fs/bpf/hvnet/xdp/root/uplink0/maps/fdb";
const recordDir = path.join(stateDir, "registry", "fdb-owners");
const files = () => (fs.existsSync(recordDir) ? fs.readdirSync(recordDir) : []);

afterAll(() => fs.rmSync(stateDir, { recursive: true, force: true }));

test("owners and ops saved by one request are read back by the next, one record per table", () => {
  const t = TableOwners.load(TABLE, 7);
  t.set("0064525400000101", "p/a/FdbEntry/x", "op-00000001");
  t.set("0064525400000102", "p/a/FdbTable/t", undefined);
  t.set("0064525400000103", "p/a/FdbTable/t", undefined);
  t.save();
  expect(files()).toHaveLength(1);
  const back = TableOwners.load(TABLE, 7);
  expect(back.size).toBe(3);
  expect(back.get("0064525400000101")).toEqual({ owner: "p/a/FdbEntry/x", op: "op-00000001" });
  expect(back.get("0064525400000103")).toEqual({ owner: "p/a/FdbTable/t" });
  expect(back.get("0064525400000104")).toBeUndefined();
  // The owner shared by two entries is stored once.
  const raw = JSON.parse(fs.readFileSync(path.join(recordDir, files()[0]), "utf8"));
  expect(raw.owners).toEqual(["p/a/FdbEntry/x", "p/a/FdbTable/t"]);
});

test("a record of another map under the same pin counts for nothing and is replaced", () => {
  const other = TableOwners.load(TABLE, 8);
  expect(other.size).toBe(0);
  other.save();
  expect(files()).toEqual([]); // the stale record went, and nothing replaced it
});

test("restore puts back what was there; the last owner gone takes the record with it", () => {
  const t = TableOwners.load(TABLE, 9);
  t.set("01", "p/a/FdbEntry/x", undefined);
  t.save();
  const u = TableOwners.load(TABLE, 9);
  const prior = u.get("01");
  u.set("01", "p/b/FdbEntry/y", "op-b-000001");
  u.set("02", "p/b/FdbEntry/z", undefined);
  u.restore("01", prior);
  u.restore("02", undefined);
  u.save();
  expect(TableOwners.load(TABLE, 9).get("01")).toEqual({ owner: "p/a/FdbEntry/x" });
  expect(TableOwners.load(TABLE, 9).size).toBe(1);
  const v = TableOwners.load(TABLE, 9);
  v.set("01", undefined, undefined); // written by a caller without an owner: nobody's now
  v.save();
  expect(files()).toEqual([]);
});

test("forgetTableOwners removes the table's record (for whoever removes the table)", () => {
  const t = TableOwners.load(TABLE, 10);
  t.set("01", "p/a/FdbEntry/x", undefined);
  t.save();
  expect(files()).toHaveLength(1);
  forgetTableOwners(TABLE);
  expect(files()).toEqual([]);
  expect(fs.existsSync(stateDir) ? fs.readdirSync(stateDir) : []).toEqual([]);
});
