// Names for the attribute an extended ack points at. The kernel reports a byte offset
// into our request (NLMSGERR_ATTR_OFFS); an operator should read
// "IFLA_LINKINFO > IFLA_INFO_DATA > IFLA_NETKIT_MODE", not "18/2/5 at offset 60".
// A request family describes its attributes as spaces: the names of one level, and for
// each nest the space of its children. The walk to the offset is the codec's
// (attrAtOffset in codec.ts), so names and numbers come from one reading of the request.
import type { AttrSet } from "./attributes";

export interface AttrSpace {
  names: ReadonlyMap<number, string>;
  /**
   * The space of a nest's children, by the nest's type. Given the nest's siblings, since
   * some nests hold what a sibling says (IFLA_INFO_DATA holds the attributes of the
   * IFLA_INFO_KIND next to it).
   */
  nests?: Readonly<Record<number, (siblings: AttrSet) => AttrSpace | undefined>>;
  /** Bytes of a struct before the attributes (a veth or netkit peer's ifinfomsg). */
  header?: number;
}

/**
 * Names by number from a module of UAPI constants: those whose name starts with `prefix`
 * and with none of `others` (the prefixes of other enums that share it).
 */
export function namesOf(constants: Record<string, unknown>, prefix: string, others: string[] = []): ReadonlyMap<number, string> {
  const names = new Map<number, string>();
  for (const [name, value] of Object.entries(constants)) {
    if (!name.startsWith(prefix) || others.some((o) => name.startsWith(o))) continue;
    if (typeof value === "number" && Number.isInteger(value) && value > 0) names.set(value, name);
  }
  return names;
}
