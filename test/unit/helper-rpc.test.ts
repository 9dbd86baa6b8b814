// The helper's RPC loop: one JSON response per request line, in order; unknown ops and
// malformed lines answered with errors, never a crash; batches grouped per op.
import { PassThrough } from "node:stream";
import { Dispatcher } from "../../provider/helper/rpc/dispatcher";
import { serve } from "../../provider/helper/rpc/server";
import { OpError } from "../../provider/helper/rpc/errors";
import { ValidationError } from "../../provider/helper/validate/errors";

function run(dispatcher: Dispatcher, lines: string[]): Promise<any[]> {
  const input = new PassThrough();
  const output = new PassThrough();
  let text = "";
  output.on("data", (d) => (text += d));
  const done = serve(dispatcher, input, output);
  input.end(lines.join("\n") + "\n");
  return done.then(() => text.trim().split("\n").map((l) => JSON.parse(l)));
}

const manyCalls: unknown[][] = [];
const dispatcher = new Dispatcher({
  echo: { one: (a) => a },
  fail: { one: () => { throw new OpError("EBUSY", "device busy"); } },
  invalid: { one: () => { throw new ValidationError([{ field: "vlan", message: "must be at most 4094, got 4095" }]); } },
  put: {
    one: (a) => ({ single: a }),
    many: (list) => {
      manyCalls.push(list);
      return list.map((a) => ({ ok: true as const, result: { batched: a } }));
    },
  },
});

test("responses keep request order and ids", async () => {
  const out = await run(dispatcher, [1, 2, 3].map((id) => JSON.stringify({ id, op: "echo", args: { n: id } })));
  expect(out).toEqual([1, 2, 3].map((id) => ({ id, ok: true, result: { n: id } })));
});

test("errors carry code and message; validation errors carry the fields", async () => {
  const [a, b, c] = await run(dispatcher, [
    JSON.stringify({ id: 1, op: "fail" }),
    JSON.stringify({ id: 2, op: "invalid" }),
    JSON.stringify({ id: 3, op: "nosuch" }),
  ]);
  expect(a).toEqual({ id: 1, ok: false, error: { code: "EBUSY", message: "device busy" } });
  expect(b.error.code).toBe("EINVALIDINPUT");
  expect(b.error.problems).toEqual([{ field: "vlan", message: "must be at most 4094, got 4095" }]);
  expect(c.error.code).toBe("EUNKNOWNOP");
  expect(c.error.message).toContain("nosuch");
});

test("a line that is not JSON is answered, and the loop goes on", async () => {
  const out = await run(dispatcher, ["{oops", JSON.stringify({ id: 9, op: "echo", args: 1 })]);
  expect(out[0]).toMatchObject({ id: -1, ok: false, error: { code: "EPROTO" } });
  expect(out[1]).toEqual({ id: 9, ok: true, result: 1 });
});

test("a batch runs consecutive requests of one op through its many-handler, in order", async () => {
  manyCalls.length = 0;
  const [r] = await run(dispatcher, [JSON.stringify({ id: 1, op: "batch", args: { requests: [
    { op: "put", args: 1 }, { op: "put", args: 2 }, { op: "echo", args: "x" }, { op: "put", args: 3 }, { op: "batch", args: {} },
  ] } })]);
  expect(manyCalls).toEqual([[1, 2], [3]]);
  expect(r.result.results).toEqual([
    { ok: true, result: { batched: 1 } },
    { ok: true, result: { batched: 2 } },
    { ok: true, result: "x" },
    { ok: true, result: { batched: 3 } },
    { ok: false, error: { code: "EINVAL", message: "batches do not nest" } },
  ]);
});

test("pipelined requests of one op go through its many-handler together; a failed one is answered by its own run", async () => {
  const seen: unknown[][] = [];
  const d = new Dispatcher({
    put: {
      one: (a) => {
        if (a === "bad") throw new OpError("EINVAL", "bad alone");
        return { single: a };
      },
      many: (list) => {
        seen.push(list);
        return list.map((a) => (a === "bad" ? { ok: false as const, error: { code: "EINVAL", message: "bad in group" } } : { ok: true as const, result: { batched: a } }));
      },
    },
  });
  const out = await run(d, [1, "bad", 3].map((a, i) => JSON.stringify({ id: i + 1, op: "put", args: a })));
  expect(seen).toEqual([[1, "bad", 3]]);
  expect(out).toEqual([
    { id: 1, ok: true, result: { batched: 1 } },
    { id: 2, ok: false, error: { code: "EINVAL", message: "bad alone" } },
    { id: 3, ok: true, result: { batched: 3 } },
  ]);
});
