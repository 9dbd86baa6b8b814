// schema.json, the SDK and the provider's input validation must describe the same
// properties: the SDK is generated from the schema (and must be current), and each
// resource's schema inputs are exactly the fields its validation accepts.
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { KINDS } from "../../provider/kinds";
import { InputReader, UNKNOWN } from "../../provider/common/validate/reader";
import { ValidationError } from "../../provider/common/validate/errors";
import { RUNTIME_PROPS } from "../../provider/runtime/check";

const ROOT = path.resolve(__dirname, "..", "..");
const schema = require(path.join(ROOT, "schema.json"));

test("sdk/generated.ts and provider/common/schema-facts.ts are what scripts/gen-sdk.js makes of schema.json", () => {
  execFileSync("node", [path.join(ROOT, "scripts", "gen-sdk.js"), "--check"], { stdio: "pipe" });
});

describe("the declarations diff decides by are checked by the generators", () => {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { schemaFacts } = require(path.join(ROOT, "scripts", "schema-facts.js"));
  const withNetkit = (edit: (r: any) => void) => {
    const copy = JSON.parse(JSON.stringify(schema));
    edit(copy.resources["hvnet:index:NetkitLower"]);
    return () => schemaFacts(copy);
  };

  test("the schema as it is passes", () => {
    expect(() => schemaFacts(schema)).not.toThrow();
  });

  test("an input that is never compared cannot be declared to replace", () => {
    // api is an output too (the API used): diff never compares it, so it cannot replace.
    expect(withNetkit((r) => (r.inputProperties.api.replaceOnChanges = true))).toThrow("NetkitLower: api has replaceOnChanges but is never compared");
  });

  test("a misspelled or misplaced x-hvnet declaration is refused", () => {
    expect(withNetkit((r) => (r["x-hvnet"].deleteBeforReplace = true))).toThrow("x-hvnet.deleteBeforReplace is not one of");
    expect(withNetkit((r) => (r["x-hvnet"].identity = ["nmae"]))).toThrow("x-hvnet.identity names nmae");
    expect(withNetkit((r) => (r["x-hvnet"].outputsAlsoInputs = ["policy"]))).toThrow("names policy, which is not both an input and an output");
  });
});

function unknownFields(typeName: string, props: Record<string, unknown>): string[] {
  try {
    KINDS[typeName].readArgs(InputReader.of(props));
    return [];
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    return err.problems.filter((p) => p.message === "is not a known field").map((p) => p.field);
  }
}

describe.each(Object.keys(KINDS))("%s", (typeName) => {
  const resource = schema.resources[`hvnet:index:${typeName}`];
  const inputs = Object.keys(resource.inputProperties).filter((k) => !RUNTIME_PROPS.includes(k));

  test("every schema input is accepted by validation", () => {
    // Values Pulumi does not know yet pass validation untouched: only the names are checked.
    const props = Object.fromEntries(inputs.map((k) => [k, UNKNOWN]));
    expect(unknownFields(typeName, props)).toEqual([]);
  });

  test("a property missing from the schema is refused", () => {
    expect(unknownFields(typeName, { notInSchema: 1 })).toEqual(["notInSchema"]);
  });

  test("every output the runtime returns is in the schema", () => {
    expect(KINDS[typeName].outputs.sort()).toEqual(Object.keys(resource.properties).sort());
  });
});

test("README.md's resource reference is what scripts/gen-reference.js makes of schema.json", () => {
  execFileSync("node", [path.join(ROOT, "scripts", "gen-reference.js"), "--check"], { stdio: "pipe" });
});

test("a resource given a property its type does not have is refused before anything else, naming all of them", () => {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const sdk = require("../../sdk/generated");
  const args = { host: { address: "10.0.0.1" }, table: "/sys/fs/bpf/t", mac: "52:54:00:00:00:01", device: "tap0", vlanId: 200, macc: "x", adopt: undefined, notThere: undefined };
  let err: Error | undefined;
  try {
    new sdk.FdbEntry("vm1-fdb", args);
  } catch (e) {
    err = e as Error;
  }
  expect(err?.message).toBe('FdbEntry "vm1-fdb": unknown properties vlanId, macc (known: host, table, vlan, mac, device, ingressAcl, adopt)');
  // Short: Node 20 takes seconds to format Pulumi's source-mapped frames.
  expect(err?.stack).toBe(err?.message);
});
