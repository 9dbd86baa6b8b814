// Names for the attribute an extended ack points at. The kernel reports a byte offset
// into our request (NLMSGERR_ATTR_OFFS); an operator should read
// "IFLA_LINKINFO > IFLA_INFO_DATA > IFLA_NETKIT_MODE", not "18/2/5 at offset 60".
// A request family describes its attributes as spaces: the names of one level, and for
// each nest the space of its children.
import { AttrSet, NLA_HDRLEN, align4 } from "./attributes";
import { NLMSG_HDRLEN } from "./codec";

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
 * The names of the attributes from the outermost nest down to the one that starts at
 * `offset` in `request` (a whole message; `headerLen` is its family header's length), or
 * undefined when an attribute on the way has no name in `space`.
 */
export function attrNamesAtOffset(request: Buffer, offset: number, headerLen: number, space: AttrSpace): string[] | undefined {
  const end = Math.min(request.length, request.readUInt32LE(0));
  const start = NLMSG_HDRLEN + align4(headerLen);
  return namesAt(request.subarray(start, end), start, offset, space);
}

function namesAt(buf: Buffer, base: number, offset: number, space: AttrSpace): string[] | undefined {
  let level: AttrSet;
  try {
    level = AttrSet.parse(buf, base);
  } catch {
    return undefined;
  }
  const attr = level.list.find((a) => offset >= a.offset && offset < a.offset + NLA_HDRLEN + a.length);
  const name = attr && space.names.get(attr.type);
  if (!attr || !name) return undefined;
  if (attr.offset === offset) return [name];
  const inner = space.nests?.[attr.type]?.(level);
  if (!inner) return undefined;
  const skip = align4(inner.header ?? 0);
  const rest = namesAt(attr.data.subarray(skip), attr.offset + NLA_HDRLEN + skip, offset, inner);
  return rest && [name, ...rest];
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
