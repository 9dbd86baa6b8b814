// The helper's RPC loop: one JSON response per request line, in order; unknown ops and
// malformed lines answered with errors, never a crash; batches grouped per op, each
// member with its own outcome and deadline; the kernel's text said once.
import { PassThrough } from "node:stream";
import { Dispatcher } from "../../provider/helper/rpc/dispatcher";
import { serve } from "../../provider/helper/rpc/server";
import { OpError, toErrorBody } from "../../provider/helper/rpc/errors";
import { KernelError } from "../../provider/helper/kernel/errors";
import { NetlinkError } from "../../provider/helper/kernel/netlink/codec";
import { libbpfError } from "../../provider/helper/kernel/bpf/internal/log";
import { currentRequest } from "../../provider/helper/state/request-context";
import { HelperError } from "../../provider/transport/errors";
import { ValidationError } from "../../provider/common/validate/errors";

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

test("a batch runs consecutive requests of one op through its many-handler, in order (a lone one through its own handler)", async () => {
  manyCalls.length = 0;
  const [r] = await run(dispatcher, [JSON.stringify({ id: 1, op: "batch", args: { requests: [
    { op: "put", args: 1 }, { op: "put", args: 2 }, { op: "echo", args: "x" }, { op: "put", args: 3 }, { op: "batch", args: {} },
  ] } })]);
  expect(manyCalls).toEqual([[1, 2]]);
  expect(r.result.results).toEqual([
    { ok: true, result: { batched: 1 } },
    { ok: true, result: { batched: 2 } },
    { ok: true, result: "x" },
    { ok: true, result: { single: 3 } },
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

// A many-handler that is all or nothing, as a map batch update per table is: one bad
// member fails the whole group, every member with the bad one's message.
function allOrNothing(seen: unknown[][]) {
  return new Dispatcher({
    put: {
      one: (a) => {
        if (a === "bad") throw new OpError("EEXIST", "entry bad exists");
        return { single: a };
      },
      many: (list) => {
        seen.push(list);
        if (list.includes("bad")) return list.map(() => ({ ok: false as const, error: { code: "EEXIST", message: "entry bad exists" } }));
        return list.map((a) => ({ ok: true as const, result: { batched: a } }));
      },
    },
    boom: {
      one: (a) => ({ alone: a }),
      many: () => {
        throw new Error("table vanished");
      },
    },
  });
}

test("in a batch, one member a many-handler failed fails only itself: the others run again alone", async () => {
  const seen: unknown[][] = [];
  const [r] = await run(allOrNothing(seen), [JSON.stringify({ id: 1, op: "batch", args: { requests: [
    { op: "put", args: 1 }, { op: "put", args: "bad" }, { op: "put", args: 3 }, { op: "boom", args: "a" }, { op: "boom", args: "b" },
  ] } })]);
  expect(seen).toEqual([[1, "bad", 3]]);
  expect(r.result.results).toEqual([
    { ok: true, result: { single: 1 } },
    { ok: false, error: { code: "EEXIST", message: "entry bad exists" } },
    { ok: true, result: { single: 3 } },
    { ok: true, result: { alone: "a" } },
    { ok: true, result: { alone: "b" } },
  ]);
});

test("pipelined or batched, the same members get the same outcomes", async () => {
  const args = [1, "bad", 3];
  const [batched] = await run(allOrNothing([]), [JSON.stringify({ id: 1, op: "batch", args: { requests: args.map((a) => ({ op: "put", args: a })) } })]);
  const piped = await run(allOrNothing([]), args.map((a, i) => JSON.stringify({ id: i + 1, op: "put", args: a })));
  expect(batched.result.results).toEqual(piped.map(({ id: _id, ...o }) => o));
});

test("a request's deadlineMs and owner reach the op; batch members keep their own", async () => {
  const seen: { owner?: string; left: number }[] = [];
  const d = new Dispatcher({
    look: {
      one: () => {
        const c = currentRequest();
        seen.push({ owner: c.owner, left: c.deadline - Date.now() });
        return {};
      },
    },
  });
  await run(d, [
    JSON.stringify({ id: 1, op: "look", args: { ownership: { owner: "p/s/FdbEntry/a" } }, deadlineMs: 3000 }),
    JSON.stringify({ id: 2, op: "batch", deadlineMs: 9000, args: { requests: [
      { op: "look", args: { ownership: { owner: "p/s/VmInterface/b" } }, deadlineMs: 1000 },
      { op: "look", args: {} },
      { op: "look", args: {}, deadlineMs: 60000 },
    ] } }),
    JSON.stringify({ id: 3, op: "look" }),
  ]);
  expect(seen[0]).toEqual({ owner: "p/s/FdbEntry/a", left: expect.any(Number) });
  expect(seen.map((s) => s.owner)).toEqual(["p/s/FdbEntry/a", "p/s/VmInterface/b", undefined, undefined, undefined]);
  const lefts = seen.map((s) => s.left);
  // 3 s; batch members: their own 1 s, the batch's 9 s, and never past the batch's 9 s; default 60 s.
  [3000, 1000, 9000, 9000, 60000].forEach((ms, i) => {
    expect(lefts[i]).toBeLessThanOrEqual(ms);
    expect(lefts[i]).toBeGreaterThan(ms - 1000);
  });
});

describe("the kernel's text is said once", () => {
  // The helper's KernelError becomes a wire body (toErrorBody) and the provider's
  // HelperError: the path every kernel failure takes to the operator.
  const count = (text: string, part: string) => text.split(part).length - 1;

  test("an extack message appears once in what the operator reads, and stays a field", () => {
    const body = toErrorBody(new KernelError("RTM_NEWLINK", 22, "mtu less than device minimum", "vm1"));
    const e = new HelperError("hv1", "vmif.apply", body);
    expect(e.message).toBe("hv1: vmif.apply: RTM_NEWLINK (vm1) failed: EINVAL: mtu less than device minimum");
    expect(count(e.message, "mtu less than device minimum")).toBe(1);
    expect(e.kernelMessage).toBe("mtu less than device minimum");
  });

  test("a verifier rejection: its last lines in the message once, the whole log in a field", () => {
    const verifier = Array.from({ length: 200 }, (_, i) => `${i}: (b7) r0 = ${i}`);
    const log = ["libbpf: prog 'xdp_main': BPF program load failed: Permission denied", "libbpf: prog 'xdp_main': -- BEGIN PROG LOAD LOG --",
      ...verifier, "R0 !read_ok", "processed 201 insns", "-- END PROG LOAD LOG --"].join("\n");
    const body = toErrorBody(libbpfError("bpf_object__load", 13, log, "/x/l2fwd.o"));
    const e = new HelperError("hv1", "xdp.apply", body);
    expect(count(e.message, "R0 !read_ok")).toBe(1);
    expect(e.message).toContain("earlier verifier lines");
    expect(e.message).not.toContain("0: (b7) r0 = 0\n");
    expect(e.log).toBe(log);
    expect(e.log).toContain("0: (b7) r0 = 0\n");
  });

  test("the attribute the kernel pointed at and the refused fields reach the operator once, and stay fields", () => {
    const attr = [
      { type: 18, name: "IFLA_LINKINFO", offset: 40 },
      { type: 2, name: "IFLA_INFO_DATA", offset: 56 },
      { type: 5, name: "IFLA_NETKIT_MODE", offset: 60 },
    ];
    const netlink = toErrorBody(new NetlinkError("RTM_NEWLINK netkit", 22, { message: "Provided device mode can only be L2 or L3", offset: 60 }, "nk0", attr));
    const e = new HelperError("hv1", "vmif.apply", netlink);
    expect(e.attribute).toBe("IFLA_LINKINFO > IFLA_INFO_DATA > IFLA_NETKIT_MODE");
    expect(count(e.message, "IFLA_LINKINFO > IFLA_INFO_DATA > IFLA_NETKIT_MODE")).toBe(1);
    const invalid = toErrorBody(new ValidationError([{ field: "vlan", message: "must be at most 4094, got 4095" }]));
    const v = new HelperError("hv1", "fdb.apply", invalid);
    expect(v.problems).toEqual([{ field: "vlan", message: "must be at most 4094, got 4095" }]);
    expect(v.message).toBe("hv1: fdb.apply: vlan: must be at most 4094, got 4095");
  });

  test("a body whose message does not say its attribute or fields still gets them once", () => {
    const e = new HelperError("hv3", "fail", {
      code: "EINVAL",
      message: "refused",
      attribute: "IFLA_MTU",
      problems: [{ field: "mtu", message: "too small" }],
    });
    expect(e.message).toBe("hv3: fail: refused (attribute IFLA_MTU; mtu: too small)");
  });

  test("a body that does not say the kernel's text itself still gets it once", () => {
    const e = new HelperError("hv3", "fail", { code: "EEXIST", message: "link exists", kernelMessage: "File exists" });
    expect(e.message).toBe("hv3: fail: link exists (kernel: File exists)");
  });
});

test("a request read late (it waited behind a slow one) keeps only what is left of the provider's deadline", async () => {
  const seen: number[] = [];
  const d = new Dispatcher({ look: { one: () => (seen.push(currentRequest().deadline - Date.now()), {}) } });
  const now = Date.now();
  await run(d, [
    JSON.stringify({ id: 1, op: "look", deadlineMs: 60_000, deadlineAt: now + 2000 }),
    JSON.stringify({ id: 2, op: "look", deadlineMs: 3000, deadlineAt: now + 600_000 }),
    JSON.stringify({ id: 3, op: "batch", deadlineMs: 60_000, args: { requests: [{ op: "look", deadlineMs: 60_000, deadlineAt: now + 1000 }] } }),
  ]);
  expect(seen[0]).toBeLessThanOrEqual(2000);
  expect(seen[0]).toBeGreaterThan(1000);
  expect(seen[1]).toBeLessThanOrEqual(3000);
  expect(seen[1]).toBeGreaterThan(2000);
  expect(seen[2]).toBeLessThanOrEqual(1000);
  expect(seen[2]).toBeGreaterThan(0);
});
