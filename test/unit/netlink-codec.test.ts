// Byte-for-byte checks of the netlink codec against the UAPI layouts.
// include/uapi/linux/netlink.h (6.1 header installed at /usr/include/linux/netlink.h):
//   l. 52  struct nlmsghdr { __u32 nlmsg_len; __u16 nlmsg_type; __u16 nlmsg_flags; __u32 nlmsg_seq; __u32 nlmsg_pid; }
//   l. 62-87 NLM_F_* flags; l. 112-115 NLMSG_NOOP/ERROR/DONE/OVERRUN
//   l. 119 struct nlmsgerr { int error; struct nlmsghdr msg; } + payload unless NLM_F_CAPPED, then TLVs if NLM_F_ACK_TLVS
//   l. 151-157 NLMSGERR_ATTR_MSG = 1, OFFS = 2, COOKIE = 3, POLICY = 4, MISS_TYPE = 5, MISS_NEST = 6
//   l. 225 struct nlattr { __u16 nla_len; __u16 nla_type; }, l. 240 NLA_F_NESTED (1 << 15), l. 244 NLA_ALIGNTO 4
import { AttrSet, encodeAttrs, nla } from "../../provider/helper/kernel/netlink/attributes";
import {
  NLMSG_DONE,
  NLMSG_ERROR,
  NLM_F_ACK,
  NLM_F_CREATE,
  NLM_F_DUMP_INTR,
  NLM_F_EXCL,
  NLM_F_MULTI,
  NLM_F_REQUEST,
  NetlinkError,
  attrAtOffset,
  encodeDone,
  encodeError,
  encodeMessage,
  parseError,
  parseMessages,
} from "../../provider/helper/kernel/netlink/codec";
import { NetlinkClient, NetlinkTransport } from "../../provider/helper/kernel/netlink/socket";
import { encodeLinkChange } from "../../provider/helper/kernel/netlink/rtnetlink-link";

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex");

describe("nlmsghdr", () => {
  test("RTM_NEWLINK header with REQUEST|ACK|CREATE|EXCL, seq 1, 16-byte payload", () => {
    const msg = encodeMessage({
      type: 16,
      flags: NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
      seq: 1,
      payload: Buffer.alloc(16),
    });
    expect(msg).toEqual(
      hex(`20000000 1000 0506 01000000 00000000
           00000000 00000000 00000000 00000000`),
    );
  });

  test("nlmsg_len excludes the padding of an odd payload, the buffer includes it", () => {
    const msg = encodeMessage({ type: 3, flags: 0, payload: Buffer.from([0xaa]) });
    expect(msg.readUInt32LE(0)).toBe(17);
    expect(msg.length).toBe(20);
    const [m] = parseMessages(msg);
    expect(m.payload).toEqual(Buffer.from([0xaa]));
  });

  test("a datagram with several messages splits on NLMSG_ALIGN boundaries", () => {
    const a = encodeMessage({ type: 16, flags: NLM_F_MULTI, seq: 9, payload: Buffer.from([1, 2, 3]) });
    const b = encodeDone(9);
    const msgs = parseMessages(Buffer.concat([a, b]));
    expect(msgs.map((m) => [m.type, m.seq])).toEqual([
      [16, 9],
      [NLMSG_DONE, 9],
    ]);
  });

  test("a length running past the datagram is refused", () => {
    const bad = encodeMessage({ type: 16, flags: 0, payload: Buffer.alloc(8) });
    bad.writeUInt32LE(64, 0);
    expect(() => parseMessages(bad)).toThrow(/malformed netlink message/);
  });
});

describe("attributes", () => {
  test("scalar attributes are padded to 4 bytes", () => {
    expect(encodeAttrs([nla.u8(1, 7)])).toEqual(hex("0500 0100 07 000000"));
    expect(encodeAttrs([nla.u16(1, 0x1234)])).toEqual(hex("0600 0100 3412 0000"));
    expect(encodeAttrs([nla.u32(1, 0xdeadbeef)])).toEqual(hex("0800 0100 efbeadde"));
    expect(encodeAttrs([nla.s32(1, -1)])).toEqual(hex("0800 0100 ffffffff"));
    expect(encodeAttrs([nla.u64(1, 0x0102030405060708n)])).toEqual(hex("0c00 0100 0807060504030201"));
    expect(encodeAttrs([nla.flag(7)])).toEqual(hex("0400 0700"));
    // NUL-terminated string: "veth" + NUL = 5 bytes, nla_len 9, padded to 12
    expect(encodeAttrs([nla.string(1, "veth")])).toEqual(hex("0900 0100 76657468 00 000000"));
  });

  test("a nest carries NLA_F_NESTED and its length covers the padded children", () => {
    const b = encodeAttrs([nla.nest(18, [nla.string(1, "veth"), nla.nest(2, [nla.u32(1, 5)])])]);
    expect(b).toEqual(
      hex(`1c00 1280
             0900 0100 76657468 00 000000
             0c00 0280
               0800 0100 05000000`),
    );
  });

  test("parsing strips the flag bits, keeps the flags, and reads typed values", () => {
    const b = encodeAttrs([nla.nest(18, [nla.string(1, "veth"), nla.u16(3, 0xbeef)]), nla.u64(4, 42n)]);
    const top = AttrSet.parse(b);
    expect(top.get(18)?.nested).toBe(true);
    expect(top.u64(4)).toBe(42n);
    const inner = top.nest(18)!;
    expect(inner.string(1)).toBe("veth");
    expect(inner.u16(3)).toBe(0xbeef);
    // offsets are relative to the buffer start (plus base): child 1 starts after the nest header
    expect(inner.get(1)?.offset).toBe(4);
  });

  test("an attribute length past its buffer is refused", () => {
    expect(() => AttrSet.parse(hex("1000 0100 00000000"))).toThrow(/malformed netlink attribute/);
  });
});

describe("NLMSG_ERROR with extended ack", () => {
  // What the kernel answers to `ip link set vx0 mtu 10` on a veth with NETLINK_EXT_ACK and
  // NETLINK_CAP_ACK set: error -EINVAL, the request header only (NLM_F_CAPPED), then
  // NLMSGERR_ATTR_MSG "mtu less than device minimum" and NLMSGERR_ATTR_OFFS 40 (IFLA_MTU).
  const kernelAnswer = hex(`
    50000000 0200 0003 07000000 00000000
    eaffffff
    30000000 1000 0500 07000000 00000000
    2100 0100 6d7475206c657373207468616e20646576696365206d696e696d756d 00 000000
    0800 0200 28000000`);

  test("decodes errno, the echoed request header, the message and the offset", () => {
    const [m] = parseMessages(kernelAnswer);
    expect(m.type).toBe(NLMSG_ERROR);
    const ack = parseError(m);
    expect(ack.errno).toBe(22);
    expect(ack.request).toEqual({ len: 0x30, type: 16, flags: 5, seq: 7, pid: 0 });
    expect(ack.message).toBe("mtu less than device minimum");
    expect(ack.offset).toBe(40);
  });

  test("an uncapped error echoes the whole request before the TLVs", () => {
    const req = encodeMessage({ type: 16, flags: 5, seq: 3, payload: Buffer.alloc(24, 0x11) });
    const err = encodeError(req, 17, { message: "exists" }, { capped: false });
    const ack = parseError(parseMessages(err)[0]);
    expect(ack.errno).toBe(17);
    expect(ack.message).toBe("exists");
  });

  test("the client turns it into a NetlinkError naming errno, text and attribute", () => {
    const req = encodeLinkChange("vx0", { mtu: 10 });
    // ifinfomsg at 16..31, IFLA_IFNAME "vx0" at 32 (8 bytes), IFLA_MTU at 40
    const full = encodeMessage({ type: req.type, flags: NLM_F_REQUEST | NLM_F_ACK, seq: 1, payload: req.payload });
    expect(attrAtOffset(full, 40, 16)).toEqual([{ type: 4, offset: 40 }]);

    const transport: NetlinkTransport = {
      protocol: 0,
      request: (msg) => {
        const answer = Buffer.from(kernelAnswer);
        answer.writeUInt32LE(msg.readUInt32LE(8), 8); // seq of the reply
        return [answer];
      },
      close: () => undefined,
    };
    const client = new NetlinkClient(transport);
    let caught: unknown;
    try {
      client.request(req.type, req.flags, req.payload, { op: "RTM_NEWLINK set", context: "vx0", headerLen: 16 });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(NetlinkError);
    const e = caught as NetlinkError;
    expect(e.code).toBe("EINVAL");
    expect(e.errno).toBe(22);
    expect(e.kernelMessage).toBe("mtu less than device minimum");
    expect(e.attrPath).toEqual([4]);
    expect(e.message).toBe("RTM_NEWLINK set (vx0; attribute 4 at offset 40) failed: EINVAL: mtu less than device minimum");
  });

  test("a missing-attribute report comes through as missingType", () => {
    const req = encodeMessage({ type: 0x14, flags: 5, seq: 2, payload: Buffer.alloc(4) });
    const ack = parseError(parseMessages(encodeError(req, 22, { missingType: 8 }))[0]);
    expect(ack.missingType).toBe(8);
    expect(ack.message).toBeUndefined();
  });
});

describe("request/ack/dump over a transport", () => {
  function scripted(answers: (msg: Buffer) => Buffer[]): { client: NetlinkClient; sent: Buffer[] } {
    const sent: Buffer[] = [];
    const transport: NetlinkTransport = {
      protocol: 0,
      request: (msg) => {
        sent.push(msg);
        return answers(msg);
      },
      close: () => undefined,
    };
    return { client: new NetlinkClient(transport), sent };
  }

  test("a dump collects multipart replies across datagrams and stops at NLMSG_DONE", () => {
    const { client, sent } = scripted((msg) => {
      const seq = msg.readUInt32LE(8);
      const part = (n: number) => encodeMessage({ type: 16, flags: NLM_F_MULTI, seq, payload: Buffer.from([n, 0, 0, 0]) });
      return [Buffer.concat([part(1), part(2)]), Buffer.concat([part(3), encodeDone(seq)])];
    });
    const got = client.dump(18, Buffer.alloc(16), { op: "dump" });
    expect(got.map((m) => m.payload[0])).toEqual([1, 2, 3]);
    expect(sent[0].readUInt16LE(6)).toBe(NLM_F_REQUEST | 0x300);
  });

  test("replies of another sequence number are ignored", () => {
    const { client } = scripted((msg) => {
      const seq = msg.readUInt32LE(8);
      return [
        Buffer.concat([
          encodeMessage({ type: 16, flags: 0, seq: seq - 1, payload: Buffer.from([9, 9, 9, 9]) }),
          encodeMessage({ type: 16, flags: 0, seq, payload: Buffer.from([1, 0, 0, 0]) }),
          encodeError(msg, 0),
        ]),
      ];
    });
    const got = client.request(18, 0, Buffer.alloc(16), { op: "get" });
    expect(got).toHaveLength(1);
    expect(got[0].payload[0]).toBe(1);
  });

  test("an interrupted dump (NLM_F_DUMP_INTR) is retried", () => {
    let calls = 0;
    const { client } = scripted((msg) => {
      const seq = msg.readUInt32LE(8);
      calls++;
      const flags = NLM_F_MULTI | (calls === 1 ? NLM_F_DUMP_INTR : 0);
      return [Buffer.concat([encodeMessage({ type: 16, flags, seq, payload: Buffer.from([calls, 0, 0, 0]) }), encodeDone(seq)])];
    });
    const got = client.dump(18, Buffer.alloc(16), { op: "dump" });
    expect(calls).toBe(2);
    expect(got[0].payload[0]).toBe(2);
  });

  test("an error in NLMSG_DONE fails the dump", () => {
    const { client } = scripted((msg) => [encodeDone(msg.readUInt32LE(8), 0, 95)]);
    expect(() => client.dump(18, Buffer.alloc(16), { op: "dump" })).toThrow(/EOPNOTSUPP/);
  });
});
