// The shape of what schema.json declares of one resource, as scripts/gen-sdk.js writes it
// into schema-facts.ts (scripts/schema-facts.js reads the declarations and checks them).

export interface ResourceFacts {
  /** Its input properties (host included): any other is refused. */
  inputs: string[];
  /** Inputs whose value is a string, number or boolean. */
  plainInputs: string[];
  /** Inputs whose change replaces the object (replaceOnChanges; host identity always does). */
  replaceOn: string[];
  /** The replacement must be deleted first: names clash or the kernel allows one at a time. */
  deleteBeforeReplace: boolean;
  /** Output property names the helper returns. */
  outputs: string[];
  /** Outputs that are inputs as well, compared like any other input (the helper fills them from an input). */
  outputsAlsoInputs: string[];
  /** Inputs that matter only when the object is made: a later change is no change. */
  creationOnly: string[];
  /** The inputs and outputs (outputs taken from the outputs) that name the object: what show and remove take. */
  identityFields: string[];
  /** The identity fields that are outputs (the kernel's RSS context id): an update carries them along. */
  identityOutputs: string[];
}
