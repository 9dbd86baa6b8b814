// diff: exactly the replace/in-place split of DESIGN.md. Connection details other than
// the host's identity never replace anything.
import { ResourceKind } from "../kinds/kind";
import { hostIdentity, HostSpec } from "../transport/host-spec";
import { sameValue, containsUnknown } from "./values";
import { RUNTIME_PROPS } from "./check";

export interface DiffResult {
  changes: boolean;
  replaces: string[];
  deleteBeforeReplace: boolean;
}

export function diffInputs(kind: ResourceKind, olds: Record<string, unknown>, news: Record<string, unknown>): DiffResult {
  const replaces: string[] = [];
  const updates: string[] = [];
  const oldHost = olds.host as HostSpec | undefined;
  const newHost = news.host as HostSpec | undefined;
  if (containsUnknown(newHost) || !oldHost || !newHost || hostIdentity(oldHost) !== hostIdentity(newHost)) {
    if (!sameValue(oldHost, newHost)) replaces.push("host");
  } else if (!sameValue(oldHost, newHost)) {
    updates.push("host");
  }
  // Outputs are not compared (the new inputs never hold them), except those a kind names as
  // inputs too (FdbTable's entries: the list given, kept keyed from check on).
  const isOutputOnly = (name: string) => kind.outputs.includes(name) && !kind.outputsAlsoInputs.includes(name);
  const names = new Set(Object.keys(news));
  for (const name of Object.keys(olds)) if (!isOutputOnly(name)) names.add(name);
  for (const name of names) {
    if (RUNTIME_PROPS.includes(name) || isOutputOnly(name)) continue;
    // Inputs read only at creation (adopt): changing one later changes nothing on the host.
    if (kind.creationOnly.includes(name)) continue;
    if (sameValue(olds[name], news[name])) continue;
    (kind.replaceOn.includes(name) ? replaces : updates).push(name);
  }
  return {
    changes: replaces.length + updates.length > 0,
    replaces,
    deleteBeforeReplace: replaces.length > 0 && kind.deleteBeforeReplace,
  };
}
