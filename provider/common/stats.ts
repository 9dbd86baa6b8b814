// What the helper's `stats` op answers, per XDP attachment: the wire shape the operator
// tools (hvnet stats, metrics) read.
export type AttachmentKind = "uplink" | "vm" | "ingress-acl";

export interface AttachmentStats {
  kind: AttachmentKind;
  /** Kernel name of the program counting (l2fwd, vm_egress, vm_ingress_acl), when attached. */
  program?: string;
  /** The device the program runs on (the tap for "vm", the uplink for "ingress-acl"). */
  device: string;
  netns?: string;
  pinDir: string;
  /** The link still holds the program on a device (false: pins left after the device went). */
  attached: boolean;
  vm?: { mac?: string; addresses?: string[] };
  /** Decimal strings: u64 counters do not fit a JSON number exactly. */
  counters: Record<string, { packets: string; bytes: string }>;
}
