// bpf_link: the attachment as a kernel object. An XDP link owns its device's hook (netlink
// attach attempts get EBUSY), survives the helper when pinned, and swaps its program in
// place with BPF_LINK_UPDATE: the hook never runs without a program.
//
// Create/update/detach are raw bpf(2) commands (internal/attr.ts) because libbpf 1.1
// cannot express netkit's mprog fields; one encoder for all link commands keeps the
// tested bytes and the sent bytes the same.
import { AttachFlags, AttachType, BpfCmd, LinkType, XdpFlags, encodeLinkCreate, encodeLinkDetach, encodeLinkUpdate } from "./internal/attr";
import { checkLibbpf, closeFd, expectKind } from "./internal/fd";
import { LinkInfo, linkInfo } from "./internal/info";
import { libbpf } from "./internal/libbpf";
import { bpfCall } from "./internal/syscall";
import { openPin, pinFd, removePin } from "./pin";
import type { BpfProgram } from "./prog";

export { LinkType };

export type XdpMode = "native" | "skb" | "hw";

const XDP_MODE_FLAGS: Record<XdpMode, number> = {
  native: XdpFlags.DRV_MODE,
  skb: XdpFlags.SKB_MODE,
  hw: XdpFlags.HW_MODE,
};

/** What a netkit link is placed next to in the device's bpf_mprog chain. */
export type MprogAnchor =
  | { programFd: number }
  | { programId: number }
  | { linkFd: number }
  | { linkId: number };

export interface NetkitAttachOptions {
  /**
   * BPF_F_BEFORE / BPF_F_AFTER: relative to `anchor`, or, without one, at the head
   * (before) or tail (after) of the chain. Neither: the kernel appends.
   */
  position?: "before" | "after";
  anchor?: MprogAnchor;
  /** Fails with ESTALE unless the chain is still at this revision (0: don't check). */
  expectedRevision?: bigint | number;
}

/** Flags and relative_fd/id for an mprog attach (bpf_mprog semantics, kernel/bpf/mprog.c). */
export function mprogPlacement(opts: NetkitAttachOptions = {}): { flags: number; relative: number } {
  let flags = 0;
  if (opts.position === "before") flags |= AttachFlags.BEFORE;
  if (opts.position === "after") flags |= AttachFlags.AFTER;
  const a = opts.anchor;
  if (a && !opts.position) throw new Error("netkit attach: an anchor needs position 'before' or 'after'");
  if (!a) return { flags, relative: 0 };
  // relative_fd by default; BPF_F_ID makes it an id, BPF_F_LINK a link instead of a program.
  if ("programFd" in a) return { flags, relative: a.programFd };
  if ("programId" in a) return { flags: flags | AttachFlags.ID, relative: a.programId };
  if ("linkFd" in a) return { flags: flags | AttachFlags.LINK, relative: a.linkFd };
  return { flags: flags | AttachFlags.ID | AttachFlags.LINK, relative: a.linkId };
}

export class BpfLink {
  private closed = false;
  private pinPath?: string;

  private constructor(private readonly linkFd: number) {}

  /** Takes ownership of a link fd. */
  static fromFd(fd: number): BpfLink {
    return new BpfLink(fd);
  }

  /**
   * BPF_LINK_CREATE attach_type BPF_XDP. `ifindex` is resolved in the calling thread's
   * network namespace: call inside inNetns() for devices elsewhere.
   */
  static attachXdp(prog: BpfProgram, ifindex: number, mode: XdpMode): BpfLink {
    const attr = encodeLinkCreate({
      progFd: prog.fd,
      targetIfindex: ifindex,
      attachType: AttachType.XDP,
      flags: XDP_MODE_FLAGS[mode],
    });
    const fd = bpfCall(BpfCmd.LINK_CREATE, attr, "BPF_LINK_CREATE", `xdp ${mode} on ifindex ${ifindex}, program ${prog.name}`);
    return new BpfLink(fd);
  }

  /**
   * BPF_LINK_CREATE with BPF_NETKIT_PRIMARY (54) or BPF_NETKIT_PEER (55) on the primary
   * device's ifindex; the program must be SCHED_CLS (SEC("netkit/primary") or setType).
   */
  static attachNetkit(prog: BpfProgram, ifindex: number, peer: boolean, opts: NetkitAttachOptions = {}): BpfLink {
    const { flags, relative } = mprogPlacement(opts);
    const attr = encodeLinkCreate({
      progFd: prog.fd,
      targetIfindex: ifindex,
      attachType: peer ? AttachType.NETKIT_PEER : AttachType.NETKIT_PRIMARY,
      flags,
      mprog: { relative, expectedRevision: opts.expectedRevision ?? 0 },
    });
    const where = `netkit ${peer ? "peer" : "primary"} on ifindex ${ifindex}, program ${prog.name}`;
    return new BpfLink(bpfCall(BpfCmd.LINK_CREATE, attr, "BPF_LINK_CREATE", where));
  }

  /** Opens a pinned link; ENOENT when the pin is gone, EINVAL when it is not a link. */
  static fromPin(path: string): BpfLink {
    const link = new BpfLink(expectKind(openPin(path), "link", path));
    link.pinPath = path;
    return link;
  }

  /** Opens a link by kernel id. */
  static fromId(id: number): BpfLink {
    return new BpfLink(checkLibbpf(libbpf.link_get_fd_by_id(id), "bpf_link_get_fd_by_id", `id ${id}`));
  }

  get fd(): number {
    if (this.closed) throw new Error("BPF link is closed");
    return this.linkFd;
  }

  /** Pins the link so it outlives this process (parent directories are created inside bpffs). */
  pin(path: string): void {
    pinFd(this.fd, path);
    this.pinPath = path;
  }

  /**
   * Removes the pin (the given path, or the one this handle was pinned at or opened from).
   * The attachment ends once the last fd and pin are gone. False when there was no pin.
   */
  unpin(path?: string): boolean {
    const target = path ?? this.pinPath;
    if (target === undefined) return false;
    const removed = removePin(target);
    if (target === this.pinPath) this.pinPath = undefined;
    return removed;
  }

  /**
   * BPF_LINK_UPDATE: swaps the program in place (same link id). With oldProg, only if the
   * link still runs oldProg (BPF_F_REPLACE; EPERM otherwise).
   */
  update(prog: BpfProgram, opts: { oldProg?: BpfProgram } = {}): void {
    const attr = encodeLinkUpdate(this.fd, prog.fd, opts.oldProg?.fd);
    bpfCall(BpfCmd.LINK_UPDATE, attr, "BPF_LINK_UPDATE", `program ${prog.name}`);
  }

  info(): LinkInfo {
    return linkInfo(this.fd);
  }

  /** BPF_LINK_DETACH: ends the attachment now; the (defunct) link object lives on until closed. */
  detach(): void {
    bpfCall(BpfCmd.LINK_DETACH, encodeLinkDetach(this.fd), "BPF_LINK_DETACH");
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeFd(this.linkFd);
  }
}
