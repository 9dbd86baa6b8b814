// The dynamic provider Pulumi stores with every resource (`__provider`, in its inputs and
// again in its outputs) must stay a thin shim: small, no SSH client, no class instance,
// no secret. It is loaded here the way the engine's dynamic-provider host loads it
// (require-from-string, then handler()), in a child node process on the built package
// (dist/), from a directory where `@hvnet/pulumi` resolves as in a user's project.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "..", "..");
const SHIM = path.join(ROOT, "dist", "sdk", "shim.js");
const KINDS = ["RssContext", "NetkitLower", "XdpProgram", "FdbEntry", "VmInterface"];
const METHODS = ["configure", "check", "diff", "create", "read", "update", "delete"];

const SCRIPT = `
const requireFromString = require(${JSON.stringify(path.join(ROOT, "node_modules", "require-from-string"))});
const { providerModule } = require(process.argv[1]);
const out = {};
for (const kind of JSON.parse(process.argv[2])) {
  const text = providerModule(kind);
  const provider = requireFromString(text).handler();
  out[kind] = {
    text,
    methods: Object.keys(provider).filter((k) => typeof provider[k] === "function"),
    same: requireFromString(text).handler() === provider,
  };
}
process.stdout.write(JSON.stringify(out));
`;

let project: string;
beforeAll(() => {
  if (!fs.existsSync(SHIM)) throw new Error(`${SHIM} is missing: run make build`);
  // A project directory whose node_modules has the package, as the engine's host finds it.
  project = fs.mkdtempSync(path.join(os.tmpdir(), "hvnet-shim-"));
  fs.mkdirSync(path.join(project, "node_modules", "@hvnet"), { recursive: true });
  fs.symlinkSync(ROOT, path.join(project, "node_modules", "@hvnet", "pulumi"));
});
afterAll(() => fs.rmSync(project, { recursive: true, force: true }));

test("each resource's provider is one line of about 70 bytes that loads the runtime, with every method", () => {
  const loaded: Record<string, { text: string; methods: string[]; same: boolean }> = JSON.parse(
    execFileSync("node", ["-e", SCRIPT, SHIM, JSON.stringify(KINDS)], { cwd: project, encoding: "utf8" }),
  );
  expect(Object.keys(loaded)).toEqual(KINDS);
  for (const [kind, { text, methods, same }] of Object.entries(loaded)) {
    // The state budget (2 KB per FdbEntry) stores this twice per resource.
    expect(text.length).toBeLessThan(96);
    expect(text).not.toContain("\n");
    expect(text).toContain(JSON.stringify(kind));
    expect(methods.sort()).toEqual([...METHODS].sort());
    // One provider object per type and process: configure runs once per type.
    expect(same).toBe(true);
    expect(text).not.toMatch(/PRIVATE KEY|ssh2|HostPool|Client\(/);
  }
});

test("a type name that is not one of ours is refused when the module is made and when it loads", () => {
  const { providerModule } = require(SHIM) as { providerModule: (t: string) => string };
  expect(() => providerModule('x");process.exit(1)//')).toThrow(/not a resource type name/);
  const text = providerModule("NoSuchType");
  expect(() =>
    execFileSync("node", ["-e", `require(${JSON.stringify(path.join(ROOT, "node_modules", "require-from-string"))})(${JSON.stringify(text)}).handler()`], {
      cwd: project, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"],
    }),
  ).toThrow(/unknown hvnet resource type NoSuchType/);
});
