// The dynamic-provider object Pulumi serializes into every resource's state must stay a
// thin shim: small, no SSH client, no class instance, no secret. Pulumi's closure
// serialization does not work inside jest (jest keeps its own module cache), so it runs
// in a child node process, on the built SDK (dist/).
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "..", "..");
const SHIM = path.join(ROOT, "dist", "sdk", "shim.js");

const SCRIPT = `
const { serializeFunction } = require("@pulumi/pulumi/runtime");
const { providerShim } = require(process.argv[1]);
(async () => {
  const out = {};
  for (const kind of ["RssContext", "NetkitLower", "XdpProgram", "FdbEntry", "VmInterface"]) {
    const provider = providerShim(kind);
    // Pulumi caches the serialized text by provider object: one object per type.
    if (providerShim(kind) !== provider) throw new Error(kind + ": a second providerShim call made a new object");
    const sf = await serializeFunction(() => provider, { allowSecrets: true });
    out[kind] = sf.text;
  }
  process.stdout.write(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });
`;

test("each resource's serialized provider is a few KB and holds no key material", () => {
  if (!fs.existsSync(SHIM)) throw new Error(`${SHIM} is missing: run make build`);
  const texts: Record<string, string> = JSON.parse(execFileSync("node", ["-e", SCRIPT, SHIM], { cwd: ROOT, encoding: "utf8" }));
  expect(Object.keys(texts)).toHaveLength(5);
  for (const [kind, text] of Object.entries(texts)) {
    expect(text.length).toBeLessThan(4096);
    expect(text).toContain(JSON.stringify(kind));
    expect(text).toContain("@hvnet/pulumi/dist/provider/runtime/dynamic");
    // configure: refresh and destroy learn the stack's current host connections.
    expect(text).toMatch(/configure/);
    expect(text).not.toMatch(/PRIVATE KEY|ssh2|HostPool|Client\(/);
  }
});
