// What schema.json declares of each resource beyond its property types, read once for
// every generator (gen-sdk.js: the SDK and the provider's facts module; gen-reference.js:
// the README), so the code that decides a replace and the text that documents it come
// from the same declarations:
//   - an input property's `replaceOnChanges: true` (Pulumi's own schema field): a change
//     replaces the object;
//   - the resource's `x-hvnet` block: what Pulumi's schema has no words for (below).
// An inconsistent declaration fails the generator, naming the resource and the property.

/** The keys of a resource's `x-hvnet` block, each with what it means. */
const EXTENSION_KEYS = {
  identity: "inputs and outputs (in this order) that name the object on the host: what show and remove take",
  deleteBeforeReplace: "true when the old object must be gone before its replacement is made",
  whyReplace: "why the replacing inputs replace (and, if so, why the old object goes first)",
  outputsAlsoInputs: "outputs that are inputs too, compared like inputs (the helper fills them from an input)",
  creationOnly: "inputs read only when the object is made: a later change is no change",
  sdkWireForms: "inputs the SDK sends in the form check keeps them (sdk/wire-forms.ts), so Pulumi moves fewer values",
};

const isPlain = (p) => ["string", "integer", "number", "boolean"].includes(p.type);

/** The facts of one resource, checked against its own properties. */
function resourceFacts(token, r) {
  const fail = (what) => {
    throw new Error(`schema.json ${token}: ${what}`);
  };
  const ext = r["x-hvnet"];
  if (!ext) fail(`has no "x-hvnet" block (${Object.keys(EXTENSION_KEYS).join(", ")})`);
  for (const key of Object.keys(ext)) if (!(key in EXTENSION_KEYS)) fail(`x-hvnet.${key} is not one of ${Object.keys(EXTENSION_KEYS).join(", ")}`);
  if (typeof ext.deleteBeforeReplace !== "boolean") fail("x-hvnet.deleteBeforeReplace must be true or false");
  if (typeof ext.whyReplace !== "string") fail("x-hvnet.whyReplace must say why its replacing inputs replace");

  const inputs = Object.keys(r.inputProperties);
  const outputs = Object.keys(r.properties);
  const outputsAlsoInputs = ext.outputsAlsoInputs || [];
  const creationOnly = ext.creationOnly || [];
  const identity = ext.identity || [];
  const sdkWireForms = ext.sdkWireForms || [];
  const subset = (list, of, what, field) => {
    for (const name of list) if (!of.includes(name)) fail(`x-hvnet.${field} names ${name}, which is not ${what}`);
  };
  subset(outputsAlsoInputs, inputs.filter((k) => outputs.includes(k)), "both an input and an output", "outputsAlsoInputs");
  subset(creationOnly, inputs, "an input", "creationOnly");
  subset(identity, [...inputs, ...outputs], "an input or an output", "identity");
  subset(sdkWireForms, inputs, "an input", "sdkWireForms");

  // An input that is an output too is not compared (the state holds the output under its
  // name) unless declared in outputsAlsoInputs: declaring such an input to replace would be
  // a promise diff does not keep.
  const notCompared = inputs.filter((k) => (outputs.includes(k) && !outputsAlsoInputs.includes(k)) || creationOnly.includes(k));
  const replaceOn = inputs.filter((k) => r.inputProperties[k].replaceOnChanges === true);
  for (const k of replaceOn) if (notCompared.includes(k)) fail(`${k} has replaceOnChanges but is never compared (an output of the same name, or creationOnly)`);

  return {
    inputs,
    plainInputs: inputs.filter((k) => isPlain(r.inputProperties[k])),
    replaceOn,
    deleteBeforeReplace: ext.deleteBeforeReplace,
    whyReplace: ext.whyReplace,
    outputs,
    outputsAlsoInputs,
    creationOnly,
    notCompared,
    identityFields: identity,
    identityOutputs: identity.filter((k) => outputs.includes(k)),
    sdkWireForms,
  };
}

const short = (token) => token.split(":").pop();

/** Every resource's facts, keyed by its type name (FdbEntry). */
function schemaFacts(schema) {
  return Object.fromEntries(Object.entries(schema.resources).map(([token, r]) => [short(token), resourceFacts(token, r)]));
}

const isHostRef = (p) => p.$ref === "#/types/hvnet:index:Host";

/** What a change of one input does, as a sentence for the SDK's and the README's docs. */
function changeNote(facts, name, prop) {
  if (isHostRef(prop)) return "A new host identity (name, else address) replaces the resource; other connection details change in place.";
  if (facts.replaceOn.includes(name)) return "Changing it replaces the resource.";
  if (facts.creationOnly.includes(name)) return "Read only at creation: changing it later changes nothing.";
  if (facts.notCompared.includes(name)) return "Read only at creation: the output of the same name takes its place.";
  return "Changes in place.";
}

/** The resource's replacement as one paragraph: what replaces it, in which order, why. */
function replacementNote(facts) {
  const names = [...facts.replaceOn.map((k) => `\`${k}\``), "the host's identity"];
  const list = names.length > 1 ? `${names.slice(0, -1).join(", ")} or ${names[names.length - 1]}` : names[0];
  const order = facts.deleteBeforeReplace ? "The old one is deleted before the new one is made." : "The new one is made before the old one is deleted.";
  return `Changing ${list} replaces it. ${facts.whyReplace} ${order}`;
}

module.exports = { schemaFacts, changeNote, replacementNote, short };
