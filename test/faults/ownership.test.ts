// Fault: two stacks on one host name the same object. The runtime over real SSH to a lab
// host, with two owner strings as two stacks' SDKs set them: the second stack's create
// is refused naming the first, its delete never removes the first's object, and
// adopt: true takes the object over (after which the first stack is the stranger).
import type { LabHost } from "../support/lab";
import { HostSpec } from "../../provider/transport/host-spec";
import { KINDS } from "../../provider/kinds";
import { createResource, deleteResource, updateResource } from "../../provider/runtime/operations";
import { connectionOf, labWithPool, stackInputs } from "../support/runtime";

const env = labWithPool(1);
let host: LabHost;
let spec: HostSpec;

const hostJson = (...args: string[]): any => JSON.parse(env.lab.hostExec(host.name, args[0], args.slice(1)) || "[]");
const xdpProgId = (dev: string): number | undefined => hostJson("ip", "-j", "-d", "link", "show", "dev", dev)[0]?.xdp?.prog?.id;
const tapNames = (): string[] => hostJson("ip", "-j", "-d", "link", "show", "type", "tun").map((l: any) => l.ifname);

const inputs = (typeName: string, owner: string, props: Record<string, unknown>) => stackInputs(typeName, spec, props, owner);

beforeAll(() => {
  host = env.lab.inventory.hosts[0];
  spec = connectionOf(host);
});

let warn: jest.SpyInstance;
beforeEach(() => {
  warn = jest.spyOn(console, "warn").mockImplementation(() => undefined);
});
afterEach(() => warn.mockRestore());

describe.each([
  {
    typeName: "XdpProgram",
    props: { device: "uplink0", program: "l2fwd" },
    present: () => xdpProgId("uplink0") !== undefined,
    refusal: /the XDP attachment of uplink0 pinned at \/sys\/fs\/bpf\/hvnet\/xdp\/root\/uplink0 already exists and is owned by proj\/stack-a\/XdpProgram\/uplink, made \d{4}-\d\d-\d\dT[^;]+; set adopt: true to take it over/,
  },
  {
    typeName: "VmInterface",
    props: { name: "vm7", vcpus: 1, mac: "52:54:00:00:07:07", addresses: ["10.9.0.77"], owner: { uid: 4242, gid: 4242 } },
    present: () => tapNames().includes("vm7"),
    refusal: /tap vm7 already exists and is owned by proj\/stack-a\/VmInterface\/uplink, made \d{4}-\d\d-\d\dT[^;]+; set adopt: true to take it over/,
  },
])("two stacks, one $typeName", ({ typeName, props, present, refusal }) => {
  const kind = KINDS[typeName];
  const A = `proj/stack-a/${typeName}/uplink`;
  const B = `proj/stack-b/${typeName}/uplink`;
  let a: { id: string; outs: Record<string, any> };

  test("the second stack's create is refused, naming the first stack's resource", async () => {
    a = await createResource(env.pool, kind, inputs(typeName, A, props));
    expect(present()).toBe(true);
    const err = await createResource(env.pool, kind, inputs(typeName, B, props)).catch((e) => e);
    expect(err.code).toBe("EEXIST");
    expect(err.message).toMatch(refusal);
    expect(present()).toBe(true);
  });

  test("the second stack's delete leaves the first stack's object and says whose it is", async () => {
    // Stack B has it in its state only as far as its inputs go (its create failed): the
    // id and identity are the same object's.
    const r = await deleteResource(env.pool, kind, a.id, { ...a.outs, __owner: B });
    expect(r).toEqual({ keptFor: A });
    expect(warn.mock.calls.map((c) => c[0]).join("\n")).toContain(`was left on the host: it is owned by ${A}`);
    expect(present()).toBe(true);
  });

  test("adopt: true takes it over; then the first stack is the stranger", async () => {
    const b = await createResource(env.pool, kind, inputs(typeName, B, { ...props, adopt: true }));
    expect(b.id).toBe(a.id);
    // The first stack's update and delete no longer touch it.
    const err = await updateResource(env.pool, kind, a.id, a.outs, inputs(typeName, A, props)).catch((e) => e);
    expect(err.code).toBe("EEXIST");
    expect(err.message).toContain(`owned by ${B}`);
    expect(await deleteResource(env.pool, kind, a.id, a.outs)).toEqual({ keptFor: B });
    expect(present()).toBe(true);
    // Its new owner's delete removes it.
    expect(await deleteResource(env.pool, kind, b.id, b.outs)).toEqual({});
    expect(present()).toBe(false);
  });
});

test("a destroyed stack leaves no owner records behind", () => {
  expect(env.lab.hostExec(host.name, "find", ["/run", "-path", "*/hvnet/*", "-name", "*.json"]).trim()).toBe("");
});
