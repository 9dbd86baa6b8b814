// The rtnetlink (NETLINK_ROUTE) client: link list/get, veth and netkit creation, delete,
// up/down, MTU, MAC, rename, netns moves and netns ids.
//
// The bytes are built and parsed by the message modules (rtnetlink-link.ts,
// rtnetlink-netkit.ts, rtnetlink-nsid.ts: pure functions, tested byte for byte); RtNetlink
// runs them over a NetlinkClient, resolves namespaces to fds and checks what came back.
import { KernelError } from "../errors";
import { errnoNumber } from "../internal/errno";
import * as libc from "../internal/libc";
import { netnsFd } from "../netns";
import { NetlinkMessage } from "./codec";
import { Link, LinkChange, encodeLinkChange, encodeLinkDelete, encodeLinkDump, encodeLinkGet, encodeVethCreate, parseLink } from "./rtnetlink-link";
import { NetkitPolicy, NetkitSpec, checkNetkitSpec, encodeNetkitCreate, encodeNetkitPolicyChange } from "./rtnetlink-netkit";
import { encodeNetnsIdGet, encodeNetnsIdSet, parseNetnsId } from "./rtnetlink-nsid";
import { LinkAttrs, LinkRef, Request } from "./rtnetlink-request";
import { NETLINK_ROUTE, NetlinkClient, openNetlink } from "./socket";
import { routeAttrSpace } from "./rtnetlink-attr-names";

/** A network namespace: a name under /run/netns, a /proc/<pid>/ns/net path, or an open fd. */
export type NetnsRef = string | { fd: number };

/** The kernel has no such link type compiled in or loadable (e.g. netkit on this kernel). */
export function isKindNotSupported(e: unknown): boolean {
  return e instanceof KernelError && e.code === "EOPNOTSUPP" && /unknown device type/i.test(e.kernelMessage ?? "");
}

/** Runs fn with an fd for `ns`; fds we opened are closed afterwards. */
function withNetnsFd<T>(ns: NetnsRef | undefined, fn: (fd: number | undefined) => T): T {
  if (ns === undefined) return fn(undefined);
  if (typeof ns !== "string") return fn(ns.fd);
  const fd = netnsFd(ns);
  try {
    return fn(fd);
  } finally {
    libc.close(fd);
  }
}

export interface VethOptions extends Omit<LinkAttrs, "netnsFd"> {
  name: string;
  netns?: NetnsRef;
  peer: Omit<LinkAttrs, "netnsFd"> & { name: string; netns?: NetnsRef };
}

export interface NetkitOptions extends Omit<NetkitSpec, "netnsFd" | "peer"> {
  netns?: NetnsRef;
  peer?: Omit<LinkAttrs, "netnsFd"> & { netns?: NetnsRef };
}

/** rtnetlink handle bound to the namespace its socket was opened in. */
export class RtNetlink {
  readonly nl: NetlinkClient;

  constructor(nl: NetlinkClient) {
    this.nl = nl;
  }

  static open(opts: { netns?: string } = {}): RtNetlink {
    return new RtNetlink(openNetlink(NETLINK_ROUTE, opts));
  }

  close(): void {
    this.nl.close();
  }

  private run(req: Request, op: string, context?: string): NetlinkMessage[] {
    return this.nl.request(req.type, req.flags, req.payload, { op, context, headerLen: req.headerLen, attrs: routeAttrSpace(req.type) });
  }

  listLinks(filter: { kind?: string; master?: number } = {}): Link[] {
    const req = encodeLinkDump(filter);
    return this.nl.dump(req.type, req.payload, { op: "RTM_GETLINK dump", headerLen: req.headerLen }).map(parseLink);
  }

  /** Throws NetlinkError ENODEV when the link does not exist. */
  getLink(ref: LinkRef): Link {
    const replies = this.run(encodeLinkGet(ref), "RTM_GETLINK", String(ref));
    if (replies.length !== 1) throw new Error(`RTM_GETLINK ${ref}: expected one reply, got ${replies.length}`);
    return parseLink(replies[0]);
  }

  findLink(ref: LinkRef): Link | undefined {
    try {
      return this.getLink(ref);
    } catch (e) {
      if (e instanceof KernelError && e.code === "ENODEV") return undefined;
      throw e;
    }
  }

  /** Creates a veth pair; returns the first end as read back, unless it was created elsewhere. */
  createVeth(o: VethOptions): Link | undefined {
    const { netns, peer, ...top } = o;
    const { netns: peerNetns, ...peerAttrs } = peer;
    withNetnsFd(netns, (fd) =>
      withNetnsFd(peerNetns, (peerFd) => {
        this.run(encodeVethCreate({ ...top, netnsFd: fd, peer: { ...peerAttrs, netnsFd: peerFd } }), "RTM_NEWLINK veth", o.name);
      }),
    );
    return netns === undefined ? this.getLink(o.name) : undefined;
  }

  /**
   * Creates a netkit pair or single device. When the primary stays in this namespace the
   * result is read back and checked: a kernel older than the requested feature ignores
   * unknown IFLA_NETKIT_* attributes, so "single" on a pre-7.1 kernel would otherwise
   * silently make a pair.
   */
  createNetkit(o: NetkitOptions): Link | undefined {
    const { netns, peer, ...rest } = o;
    let peerBase: LinkAttrs | undefined;
    if (peer) {
      const { netns: _peerNetns, ...p } = peer;
      peerBase = p;
    }
    checkNetkitSpec({ ...rest, peer: peerBase });
    withNetnsFd(netns, (fd) =>
      withNetnsFd(peer?.netns, (peerFd) => {
        const req = encodeNetkitCreate({ ...rest, netnsFd: fd, peer: peerBase ? { ...peerBase, netnsFd: peerFd } : undefined });
        this.run(req, "RTM_NEWLINK netkit", o.name);
      }),
    );
    if (netns !== undefined) return undefined;
    const link = this.getLink(o.name);
    if (o.pairing === "single" && link.netkit?.pairing !== "single") {
      this.deleteLink(link.ifindex);
      throw new KernelError("RTM_NEWLINK netkit", errnoNumber("EOPNOTSUPP"), "this kernel does not know netkit single mode (IFLA_NETKIT_PAIRING, Linux 7.1)", o.name);
    }
    return link;
  }

  deleteLink(ref: LinkRef): void {
    this.run(encodeLinkDelete(ref), "RTM_DELLINK", String(ref));
  }

  setLink(ref: LinkRef, change: Omit<LinkChange, "netnsFd">): void {
    this.run(encodeLinkChange(ref, change), "RTM_NEWLINK set", String(ref));
  }
  setNetkitPolicy(ifindex: number, policy: NetkitPolicy): void {
    this.run(encodeNetkitPolicyChange(ifindex, policy), "RTM_NEWLINK netkit policy", String(ifindex));
  }
  setUp(ref: LinkRef): void {
    this.setLink(ref, { up: true });
  }
  setDown(ref: LinkRef): void {
    this.setLink(ref, { up: false });
  }
  setMtu(ref: LinkRef, mtu: number): void {
    this.setLink(ref, { mtu });
  }
  setAddress(ref: LinkRef, address: string): void {
    this.setLink(ref, { address });
  }
  setName(ref: LinkRef, name: string): void {
    const index = typeof ref === "number" ? ref : this.getLink(ref).ifindex;
    this.setLink(index, { name });
  }

  /** Moves a device to another namespace (IFLA_NET_NS_FD), optionally renaming it there. */
  moveToNetns(ref: LinkRef, netns: NetnsRef, newName?: string): void {
    const index = newName !== undefined && typeof ref !== "number" ? this.getLink(ref).ifindex : ref;
    withNetnsFd(netns, (fd) => {
      this.run(encodeLinkChange(index, { netnsFd: fd, name: newName }), "RTM_NEWLINK netns", String(ref));
    });
  }

  /** The id this namespace knows `netns` by, or undefined when none is assigned. */
  getNetnsId(netns: NetnsRef): number | undefined {
    return withNetnsFd(netns, (fd) => {
      const replies = this.run(encodeNetnsIdGet(fd as number), "RTM_GETNSID", typeof netns === "string" ? netns : undefined);
      return replies.length ? parseNetnsId(replies[0]) : undefined;
    });
  }

  /** Like getNetnsId, assigning one first when there is none. */
  ensureNetnsId(netns: NetnsRef): number {
    const have = this.getNetnsId(netns);
    if (have !== undefined) return have;
    withNetnsFd(netns, (fd) => {
      this.run(encodeNetnsIdSet(fd as number), "RTM_NEWNSID", typeof netns === "string" ? netns : undefined);
    });
    const id = this.getNetnsId(netns);
    if (id === undefined) throw new Error("RTM_NEWNSID succeeded but no id is assigned");
    return id;
  }
}
