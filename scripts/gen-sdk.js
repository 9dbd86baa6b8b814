#!/usr/bin/env node
// Generates, from schema.json, sdk/generated.ts (input/output types and resource classes)
// and provider/common/schema-facts.ts (what the provider and the helper must know of each
// resource: its inputs, which of them replace it, its outputs and identity; the Host type),
// so neither can disagree with the schema. `--check` fails when either file is stale.
const fs = require("node:fs");
const path = require("node:path");
const { schemaFacts, changeNote, short } = require("./schema-facts");

const root = path.resolve(__dirname, "..");
const schema = JSON.parse(fs.readFileSync(path.join(root, "schema.json"), "utf8"));
const facts = schemaFacts(schema);
const HOST = "hvnet:index:Host";
const sdkTarget = path.join(root, "sdk", "generated.ts");
const factsTarget = path.join(root, "provider", "common", "schema-facts.ts");

/** The TypeScript type of a schema property; inputs accept pulumi.Input at every level. */
function tsType(prop, input) {
  const wrap = (t) => (input ? `pulumi.Input<${t}>` : t);
  if (prop.$ref) return wrap(`${short(prop.$ref)}${input ? "Args" : ""}`);
  if (prop.oneOf) return wrap(prop.oneOf.map((p) => bare(p, input)).join(" | "));
  switch (prop.type) {
    case "string": return wrap("string");
    case "integer": case "number": return wrap("number");
    case "boolean": return wrap("boolean");
    case "array": return wrap(`${tsType(prop.items, input)}[]`);
    case "object": return wrap(`Record<string, ${tsType(prop.additionalProperties || { type: "string" }, input)}>`);
    default: throw new Error(`unsupported schema type ${JSON.stringify(prop)}`);
  }
}

function bare(prop, input) {
  const t = tsType(prop, input);
  return input ? t.replace(/^pulumi\.Input<(.*)>$/, "$1") : t;
}

function doc(text, indent) {
  return `${indent}/** ${text.replace(/\*\//g, "*\\/")} */\n`;
}

/** `note(name, prop)`, if given, adds a sentence to each property's doc. */
function iface(name, props, required, input, note) {
  let s = `export interface ${name} {\n`;
  for (const [k, p] of Object.entries(props)) {
    s += doc([p.description || k, note && note(k, p)].filter(Boolean).join(" "), "  ");
    s += `  ${k}${required.includes(k) ? "" : "?"}: ${tsType(p, input)};\n`;
  }
  return s + "}\n\n";
}

let out = `// Generated from schema.json by scripts/gen-sdk.js. Do not edit.
import * as pulumi from "@pulumi/pulumi";
import { providerModule } from "./shim";
import { wireForm } from "./wire-forms";
import { configError } from "./targets";
import { Host, RESOURCE_FACTS } from "../provider/common/schema-facts";

/**
 * A property the type does not have is a typo (vlanId for vlan): Pulumi would drop it and
 * create the object with a default. Refused here, before any host is touched.
 */
function refuseUnknown(type: string, name: string, args: unknown, known: readonly string[]): void {
  if (args === null || typeof args !== "object") return; // check() names a missing host
  const unknown = Object.keys(args).filter((k) => !known.includes(k) && (args as Record<string, unknown>)[k] !== undefined);
  if (unknown.length === 0) return;
  const what = unknown.length === 1 ? "property" : "properties";
  throw configError(\`\${type} "\${name}": unknown \${what} \${unknown.join(", ")} (known: \${known.join(", ")})\`);
}

`;
for (const [token, t] of Object.entries(schema.types)) {
  out += doc(t.description, "");
  out += iface(`${short(token)}Args`, t.properties, t.required || [], true);
  // The plain Host type is the facts module's (the provider's HostSpec): one type, not two alike.
  if (token === HOST) out += `export type { Host };\n\n`;
  else out += doc(t.description, "") + iface(short(token), t.properties, t.required || [], false);
}
for (const [token, r] of Object.entries(schema.resources)) {
  const name = short(token);
  out += doc(`Inputs of ${name}.`, "");
  out += iface(`${name}Args`, r.inputProperties, r.requiredInputs || [], true, (k, p) => changeNote(facts[name], k, p));
}
for (const [token, r] of Object.entries(schema.resources)) {
  const name = short(token);
  const outputs = Object.keys(r.properties);
  out += doc(r.description, "");
  out += `export class ${name} extends pulumi.CustomResource {\n`;
  for (const [k, p] of Object.entries(r.inputProperties)) {
    if (outputs.includes(k)) continue;
    out += doc(p.description, "  ");
    out += `  declare public readonly ${k}: pulumi.Output<${tsType(p, false)}${(r.requiredInputs || []).includes(k) ? "" : " | undefined"}>;\n`;
  }
  for (const [k, p] of Object.entries(r.properties)) {
    out += doc(p.description, "  ");
    out += `  declare public readonly ${k}: pulumi.Output<${tsType(p, false)}>;\n`;
  }
  out += `\n  constructor(name: string, args: ${name}Args, opts?: pulumi.CustomResourceOptions) {\n`;
  // Every property gets a key, set or not: Pulumi makes output properties only of the
  // keys it is given, and an input left unset still comes back filled (a default).
  const known = `RESOURCE_FACTS.${name}.inputs`;
  out += `    refuseUnknown(${JSON.stringify(name)}, name, args, ${known});\n`;
  out += `    const props: Record<string, unknown> = {};\n`;
  out += `    for (const k of ${known}) props[k] = (args as unknown as Record<string, unknown>)[k];\n`;
  out += `    for (const k of ${JSON.stringify(outputs.filter((k) => !(k in r.inputProperties)))}) props[k] = undefined;\n`;
  out += `    // The host holds private keys (its own, its jump host's), however they were given:\n`;
  out += `    // secret as an input and as an output, so no copy of it in the state is plain text.\n`;
  out += `    if (props.host !== undefined) props.host = pulumi.secret(props.host as pulumi.Input<HostArgs>);\n`;
  for (const k of facts[name].sdkWireForms) {
    out += `    // Sent in the form check keeps it (./wire-forms): fewer values for Pulumi to move.\n`;
    out += `    props.${k} = wireForm(${JSON.stringify(name)}, ${JSON.stringify(k)}, props.${k});\n`;
  }
  out += `    // Who owns what this resource makes on the host (recorded there with the object).\n`;
  out += `    props.__owner = \`\${pulumi.getProject()}/\${pulumi.getStack()}/${name}/\${name}\`;\n`;
  out += `    const secrets = { additionalSecretOutputs: ["host", ...(opts?.additionalSecretOutputs ?? [])] };\n`;
  out += `    // A dynamic resource (the engine's pulumi-nodejs provider runs it) whose provider is\n`;
  out += `    // the one-line module of ./shim rather than a serialized closure: see there.\n`;
  out += `    props.__provider = providerModule(${JSON.stringify(name)});\n`;
  out += `    super(${JSON.stringify(`pulumi-nodejs:dynamic/hvnet:${name}`)}, name, props, { ...opts, ...secrets });\n`;
  out += `  }\n}\n\n`;
}
out = out.trimEnd() + "\n";

/** The facts module: the Host type and, per resource, what the runtime and helper decide by. */
function factsModule() {
  const host = schema.types[HOST];
  const list = (names) => JSON.stringify(names).replace(/","/g, '", "');
  let s = `// Generated from schema.json by scripts/gen-sdk.js (see scripts/schema-facts.js). Do not edit.
// What schema.json declares, for the code on both sides of the SSH boundary: the provider
// decides replace or update, the SDK and the helper refuse unknown fields, from these.
import type { ResourceFacts } from "./resource-facts";

`;
  s += doc(host.description, "");
  s += iface("Host", host.properties, host.required || [], false);
  s += `/** The Host type's fields. */\nexport const HOST_FIELDS: readonly string[] = ${list(Object.keys(host.properties))};\n\n`;
  s += `export type TypeName = ${Object.keys(facts).map((n) => JSON.stringify(n)).join(" | ")};

export const RESOURCE_FACTS: Record<TypeName, ResourceFacts> = {
`;
  for (const [name, f] of Object.entries(facts)) {
    s += `  ${name}: {\n`;
    for (const key of ["inputs", "plainInputs", "replaceOn", "deleteBeforeReplace", "outputs", "outputsAlsoInputs", "creationOnly", "identityFields", "identityOutputs"]) {
      s += `    ${key}: ${typeof f[key] === "boolean" ? f[key] : list(f[key])},\n`;
    }
    s += `  },\n`;
  }
  return s + "};\n";
}

const targets = [
  [sdkTarget, out],
  [factsTarget, factsModule()],
];
for (const [target, text] of targets) {
  const rel = path.relative(root, target);
  if (!process.argv.includes("--check")) fs.writeFileSync(target, text);
  else if (!fs.existsSync(target) || fs.readFileSync(target, "utf8") !== text) {
    console.error(`${rel} is stale: run node scripts/gen-sdk.js`);
    process.exitCode = 1;
  }
}
