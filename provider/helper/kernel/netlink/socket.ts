// AF_NETLINK sockets and the request/ack/dump exchange on top of them.
//
// Calls are synchronous (blocking recv on the calling thread) on purpose: a network
// namespace belongs to a thread, and a netlink socket belongs to the namespace it was
// opened in. openNetlink({netns}) enters the namespace, opens the socket and returns,
// so the socket keeps talking to that namespace from anywhere afterwards.
//
// The kernel is reached through NetlinkTransport so a test double can stand in for it
// at the byte level (test/support/fake-netlink.ts).
import * as libc from "../internal/libc";
import { KernelError } from "../errors";
import { errnoNumber } from "../internal/errno";
import { inNetns } from "../netns";
import type { AttrSpace } from "./attr-names";
import {
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_NOOP,
  NLMSG_OVERRUN,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_DUMP_INTR,
  NLM_F_REQUEST,
  NetlinkError,
  NetlinkMessage,
  attrAtOffset,
  encodeMessage,
  messageSeq,
  parseDone,
  parseError,
  parseMessages,
} from "./codec";

// include/uapi/linux/netlink.h l. 9, 25 (6.1 header): protocol numbers
export const NETLINK_ROUTE = 0;
export const NETLINK_GENERIC = 16;
// include/uapi/linux/netlink.h l. 172-174: socket options (SOL_NETLINK)
export const NETLINK_CAP_ACK = 10;
export const NETLINK_EXT_ACK = 11;
export const NETLINK_GET_STRICT_CHK = 12;

const SOL_SOCKET = 1;
const SO_RCVBUF = 8;
const SO_RCVTIMEO = 20; // x86_64/generic asm/socket.h (SO_RCVTIMEO_OLD)

/** The boundary a test double replaces: bytes in, the kernel's datagrams out. */
export interface NetlinkTransport {
  readonly protocol: number;
  /**
   * Sends one request (its nlmsg_seq already set) and returns the raw datagrams that
   * answer it, up to and including the one holding the NLMSG_ERROR (ack) or NLMSG_DONE
   * with that sequence number. The request must carry NLM_F_ACK or NLM_F_DUMP.
   */
  request(msg: Buffer): Buffer[];
  close(): void;
}

function isFinal(datagram: Buffer, seq: number): boolean {
  for (const m of parseMessages(datagram)) {
    if (m.seq === seq && (m.type === NLMSG_ERROR || m.type === NLMSG_DONE || m.type === NLMSG_OVERRUN)) return true;
  }
  return false;
}

/** A real AF_NETLINK socket in the calling thread's network namespace. */
export class NetlinkSocket implements NetlinkTransport {
  readonly protocol: number;
  readonly fd: number;
  /** nl_pid the kernel assigned at bind. */
  readonly portId: number;
  private buf = Buffer.alloc(64 * 1024);
  private closed = false;

  constructor(protocol: number, opts: { timeoutMs?: number } = {}) {
    this.protocol = protocol;
    this.fd = libc.socket(libc.AF_NETLINK, libc.SOCK_RAW, protocol);
    try {
      // Errors carry the kernel's text and only the request header comes back.
      libc.setsockoptInt(this.fd, libc.SOL_NETLINK, NETLINK_EXT_ACK, 1);
      libc.setsockoptInt(this.fd, libc.SOL_NETLINK, NETLINK_CAP_ACK, 1);
      // Malformed dump requests are refused instead of silently widened.
      libc.setsockoptInt(this.fd, libc.SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1);
      libc.setsockoptInt(this.fd, SOL_SOCKET, SO_RCVBUF, 1 << 20);
      // A kernel that never answers must not hang the helper forever.
      const tv = Buffer.alloc(16);
      const ms = opts.timeoutMs ?? 30_000;
      tv.writeBigInt64LE(BigInt(Math.floor(ms / 1000)), 0);
      tv.writeBigInt64LE(BigInt((ms % 1000) * 1000), 8);
      libc.setsockoptBytes(this.fd, SOL_SOCKET, SO_RCVTIMEO, tv);
      const addr = Buffer.alloc(12); // struct sockaddr_nl {u16 family; u16 pad; u32 pid; u32 groups}
      addr.writeUInt16LE(libc.AF_NETLINK, 0);
      libc.bind(this.fd, addr);
      this.portId = libc.getsockname(this.fd, 12).readUInt32LE(4);
    } catch (e) {
      libc.close(this.fd);
      throw e;
    }
  }

  request(msg: Buffer): Buffer[] {
    if (this.closed) throw new Error("netlink socket is closed");
    const flags = msg.readUInt16LE(6);
    // Without an ack (or a dump's NLMSG_DONE) nothing marks the end of the answer.
    if (!(flags & NLM_F_ACK) && (flags & NLM_F_DUMP) !== NLM_F_DUMP) {
      throw new Error("netlink request needs NLM_F_ACK or NLM_F_DUMP to know where its answer ends");
    }
    const seq = messageSeq(msg);
    libc.send(this.fd, msg);
    const out: Buffer[] = [];
    for (;;) {
      const d = this.recvDatagram();
      out.push(d);
      if (isFinal(d, seq)) return out;
    }
  }

  private recvDatagram(): Buffer {
    for (;;) {
      try {
        // Peek first: recv reports the datagram's full size (MSG_TRUNC), so a reply larger
        // than the buffer grows it instead of being cut and lost.
        const size = libc.recv(this.fd, this.buf, libc.MSG_PEEK);
        if (size > this.buf.length) this.buf = Buffer.alloc(size + 4096);
        const n = libc.recv(this.fd, this.buf);
        return Buffer.from(this.buf.subarray(0, n));
      } catch (e) {
        if (e instanceof KernelError && e.code === "EINTR") continue;
        if (e instanceof KernelError && e.code === "EAGAIN") {
          throw new KernelError("netlink recv", errnoNumber("ETIMEDOUT"), "no answer from the kernel");
        }
        throw e;
      }
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    libc.close(this.fd);
  }
}

export interface RequestOptions {
  /** What we were doing, for the error message ("RTM_NEWLINK veth"). */
  op: string;
  /** Which object, for the error message ("veth0"). */
  context?: string;
  /** Length of the family header after nlmsghdr, to name the attribute extack points at. */
  headerLen?: number;
  /** The request's attribute names, so an error names the attribute extack points at. */
  attrs?: AttrSpace;
}

/** Sequence numbers, acks, dumps and error decoding over any transport. */
export class NetlinkClient {
  readonly transport: NetlinkTransport;
  private seq: number;

  constructor(transport: NetlinkTransport) {
    this.transport = transport;
    // Start somewhere arbitrary so replies to an earlier socket's requests never match.
    this.seq = (Date.now() & 0x7fffffff) >>> 0;
  }

  get protocol(): number {
    return this.transport.protocol;
  }

  private nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0;
    if (this.seq === 0) this.seq = 1;
    return this.seq;
  }

  /** A "do" request: REQUEST|ACK plus `flags`. Returns the replies before the ack. */
  request(type: number, flags: number, payload: Buffer, opts: RequestOptions): NetlinkMessage[] {
    const seq = this.nextSeq();
    const msg = encodeMessage({ type, flags: NLM_F_REQUEST | NLM_F_ACK | flags, seq, payload });
    return this.collect(msg, seq, opts).messages;
  }

  /** A dump: every multipart reply until NLMSG_DONE; retried when the kernel says it was interrupted. */
  dump(type: number, payload: Buffer, opts: RequestOptions): NetlinkMessage[] {
    for (let attempt = 0; attempt < 5; attempt++) {
      const seq = this.nextSeq();
      const msg = encodeMessage({ type, flags: NLM_F_REQUEST | NLM_F_DUMP, seq, payload });
      const { messages, interrupted } = this.collect(msg, seq, opts);
      if (!interrupted) return messages;
    }
    throw new KernelError(opts.op, errnoNumber("EINTR"), "dump kept changing under us (NLM_F_DUMP_INTR)", opts.context);
  }

  private collect(msg: Buffer, seq: number, opts: RequestOptions): { messages: NetlinkMessage[]; interrupted: boolean } {
    const messages: NetlinkMessage[] = [];
    let interrupted = false;
    for (const datagram of this.transport.request(msg)) {
      for (const m of parseMessages(datagram)) {
        if (m.seq !== seq || m.type === NLMSG_NOOP) continue;
        if (m.type === NLMSG_ERROR) {
          const ack = parseError(m);
          if (ack.errno !== 0) throw this.error(msg, ack, opts);
          return { messages, interrupted };
        }
        if (m.type === NLMSG_DONE) {
          const done = parseDone(m);
          if (done.errno !== 0) throw this.error(msg, done, opts);
          return { messages, interrupted: interrupted || (m.flags & NLM_F_DUMP_INTR) !== 0 };
        }
        if (m.type === NLMSG_OVERRUN) {
          throw new KernelError(opts.op, errnoNumber("ENOBUFS"), "netlink overrun: replies were lost", opts.context);
        }
        if (m.flags & NLM_F_DUMP_INTR) interrupted = true;
        messages.push(m);
      }
    }
    throw new Error(`${opts.op}: the answer ended without an ack or NLMSG_DONE`);
  }

  private error(msg: Buffer, e: { errno: number; message?: string; offset?: number; missingType?: number }, opts: RequestOptions): NetlinkError {
    const attr = e.offset === undefined ? undefined : attrAtOffset(msg, e.offset, opts.headerLen ?? 0, opts.attrs);
    return new NetlinkError(opts.op, e.errno, e, opts.context, attr);
  }

  close(): void {
    this.transport.close();
  }
}

/**
 * Opens a netlink socket of `protocol` (NETLINK_ROUTE, NETLINK_GENERIC) in `netns`
 * (a name under /run/netns or /proc/<pid>/ns/net; default: the calling thread's) and
 * returns a client for it. The socket stays in that namespace for its whole life.
 */
export function openNetlink(protocol: number, opts: { netns?: string; timeoutMs?: number } = {}): NetlinkClient {
  const sock = inNetns(opts.netns, () => new NetlinkSocket(protocol, { timeoutMs: opts.timeoutMs }));
  return new NetlinkClient(sock);
}
