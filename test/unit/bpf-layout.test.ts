// The datapath map encodings (provider/helper/datapath/) byte for byte against the
// C layouts of bpf/include/hvnet.h, and the ACL compiler against a plain first-match
// evaluation of the same rules over thousands of random packets, looked up the way the C
// classifier does (a fixed 8-step binary search over the compiled intervals).
import { randomBytes } from "node:crypto";
import { AclRule, MAX_ACL_RULES } from "../../provider/common/args/common";
import { COUNTERS } from "../../provider/common/counters";
import { ACL_SLOTS } from "../../provider/helper/datapath/limits";
import { STRUCTS } from "../../provider/helper/datapath/structs";
import { decodeFdbKey, decodeFdbValue, encodeFdbKey, encodeFdbValue } from "../../provider/helper/datapath/fdb";
import { decodeVmConfig, encodeVmConfig } from "../../provider/helper/datapath/vm-config";
import { aclTablesMatchRules, decodeAcl, encodeAcl } from "../../provider/helper/datapath/acl";
import { counterEnumName, encodeCounterKey, readCounters, sumPerCpuCounter } from "../../provider/helper/datapath/counters";

const A = STRUCTS.hvnet_acl.members;

describe("FDB key/value encoding", () => {
  test("key: vlan u16 LE at 0, MAC bytes at 2; round trip", () => {
    const k = encodeFdbKey({ vlan: 0x123, mac: "02:aa:bb:cc:dd:0e" });
    expect(k.toString("hex")).toBe("230102aabbccdd0e");
    expect(decodeFdbKey(k)).toEqual({ vlan: 0x123, mac: "02:aa:bb:cc:dd:0e" });
  });

  test("value: ifindex u32 LE at 0, flags at 4 (bit 0 keeps the tag)", () => {
    expect(encodeFdbValue({ ifindex: 0x01020304 }).toString("hex")).toBe("0403020100000000");
    const v = encodeFdbValue({ ifindex: 7, keepTag: true });
    expect(v.readUInt32LE(4)).toBe(1);
    expect(decodeFdbValue(v)).toEqual({ ifindex: 7, keepTag: true });
  });

  test("refuses VLAN 4095, bad MACs and short buffers", () => {
    expect(() => encodeFdbKey({ vlan: 4095, mac: "02:00:00:00:00:01" })).toThrow(/0..4094/);
    expect(() => encodeFdbKey({ vlan: 1, mac: "02:00:00:00:00" })).toThrow(/invalid MAC/);
    expect(() => decodeFdbKey(Buffer.alloc(6))).toThrow(/expected 8/);
  });
});

describe("VM config encoding", () => {
  const cfg = {
    mac: "52:54:00:12:34:56",
    vlan: 100,
    uplinkIfindex: 9,
    bondIfindexes: [11, 12],
    ipv4: ["192.0.2.10", "198.51.100.1"],
    ipv6: ["2001:db8::10", "fe80::5054:ff:fe12:3456", "::ffff:192.0.2.10"],
    enabled: true,
  };

  test("fields land at the hvnet_vm_config offsets", () => {
    const b = encodeVmConfig(cfg);
    const m = STRUCTS.hvnet_vm_config.members;
    expect(b.length).toBe(STRUCTS.hvnet_vm_config.size);
    expect(b.subarray(m.mac, m.mac + 6).toString("hex")).toBe("525400123456");
    expect(b.readUInt16LE(m.vlan)).toBe(100);
    expect(b.readUInt32LE(m.uplink_ifindex)).toBe(9);
    expect([b.readUInt32LE(m.bond_ifindex), b.readUInt32LE(m.bond_ifindex + 4)]).toEqual([11, 12]);
    expect([b[m.bond_count], b[m.ipv4_count], b[m.ipv6_count], b[m.flags]]).toEqual([2, 2, 3, 1]);
    // Addresses in network byte order, as they appear in packets.
    expect(b.subarray(m.ipv4_be, m.ipv4_be + 4).toString("hex")).toBe("c000020a");
    expect(b.subarray(m.ipv6_be, m.ipv6_be + 16).toString("hex")).toBe("20010db8000000000000000000000010");
    expect(b.subarray(m.ipv6_be + 32, m.ipv6_be + 48).toString("hex")).toBe("00000000000000000000ffffc000020a");
  });

  test("round trip canonicalises the IPv6 text (RFC 5952)", () => {
    const back = decodeVmConfig(encodeVmConfig({ ...cfg, ipv6: ["2001:DB8:0:0:1:0:0:1", "::"] }));
    expect(back.ipv6).toEqual(["2001:db8::1:0:0:1", "::"]);
    expect({ ...back, ipv6: cfg.ipv6 }).toEqual({ ...cfg, ipv6: cfg.ipv6 });
    expect(decodeVmConfig(encodeVmConfig(cfg)).ipv6).toEqual(["2001:db8::10", "fe80::5054:ff:fe12:3456", "::ffff:c000:20a"]);
  });

  test("limits: 8 addresses per family, 2 bond legs", () => {
    const nine = Array.from({ length: 9 }, (_, i) => `192.0.2.${i + 1}`);
    expect(() => encodeVmConfig({ ...cfg, ipv4: nine })).toThrow(/at most 8 IPv4/);
    expect(() => encodeVmConfig({ ...cfg, bondIfindexes: [1, 2, 3] })).toThrow(/at most 2 bond legs/);
    expect(() => encodeVmConfig({ ...cfg, ipv4: ["192.0.2.300"] })).toThrow(/invalid IPv4/);
  });
});

// ---------------------------------------------------------------- ACL

interface Packet {
  family: 4 | 6;
  proto: number;
  src: bigint;
  dst: bigint;
  ports?: [number, number];
}

/** What the C classifier computes, read from the compiled map value. */
function classifyCompiled(b: Buffer, p: Packet): "pass" | "drop" {
  const search = (off: number, kind: "4" | "6" | "16", v: bigint): bigint => {
    let i = 0;
    for (let s = ACL_SLOTS / 2; s > 0; s >>= 1) {
      const j = i + s;
      let bound: bigint;
      if (kind === "4") bound = BigInt(b.readUInt32LE(off + 4 * j));
      else if (kind === "16") bound = BigInt(b.readUInt16LE(off + 2 * j));
      else bound = (b.readBigUInt64LE(off + 8 * j) << 64n) | b.readBigUInt64LE(off + 2048 + 8 * j);
      if (v >= bound) i = j;
    }
    const bitsOff = kind === "4" ? 1024 : kind === "16" ? 512 : 4096;
    return b.readBigUInt64LE(off + bitsOff + 8 * i);
  };
  let bits = b.readBigUInt64LE(A.proto_bits + 8 * p.proto);
  if (p.family === 4) bits &= search(A.src4, "4", p.src) & search(A.dst4, "4", p.dst);
  else bits &= search(A.src6, "6", p.src) & search(A.dst6, "6", p.dst);
  if (p.ports) bits &= search(A.sport, "16", BigInt(p.ports[0])) & search(A.dport, "16", BigInt(p.ports[1]));
  else bits &= b.readBigUInt64LE(A.portless_bits);
  if (bits === 0n) return b[A.default_action] === 1 ? "pass" : "drop";
  const lowest = bits & -bits;
  return (lowest & b.readBigUInt64LE(A.pass_bits)) !== 0n ? "pass" : "drop";
}

function prefixOf(text: string | undefined): { v: bigint; len: number; family: 4 | 6 } | undefined {
  if (!text) return undefined;
  const [addr, len] = text.split("/");
  if (addr.includes(":")) {
    let v = 0n;
    const [h, t] = addr.split("::");
    const hs = h ? h.split(":") : [];
    const ts = t ? t.split(":") : [];
    const groups = t === undefined ? hs : [...hs, ...new Array(8 - hs.length - ts.length).fill("0"), ...ts];
    for (const g of groups) v = (v << 16n) | BigInt(parseInt(g, 16));
    return { v, len: len === undefined ? 128 : Number(len), family: 6 };
  }
  const v = addr.split(".").reduce((acc, x) => (acc << 8n) | BigInt(Number(x)), 0n);
  return { v, len: len === undefined ? 32 : Number(len), family: 4 };
}

const PROTOCOL_NUMBERS: Record<string, number> = { icmp: 1, tcp: 6, udp: 17, icmpv6: 58 };

/** The specification: rules in order, first match wins. */
function classifyNaive(rules: AclRule[], def: "allow" | "deny", p: Packet): "pass" | "drop" {
  const inPrefix = (text: string | undefined, v: bigint): boolean => {
    const pre = prefixOf(text);
    if (!pre) return true;
    const width = pre.family === 4 ? 32n : 128n;
    const shift = width - BigInt(pre.len);
    return v >> shift === pre.v >> shift;
  };
  for (const r of rules) {
    const fam = prefixOf(r.src)?.family ?? prefixOf(r.dst)?.family;
    if (fam !== undefined && fam !== p.family) continue;
    const proto = typeof r.protocol === "string" ? PROTOCOL_NUMBERS[r.protocol] : r.protocol;
    if (proto !== undefined && proto !== 0 && proto !== p.proto) continue;
    if (!inPrefix(r.src, p.src) || !inPrefix(r.dst, p.dst)) continue;
    if (r.srcPorts || r.dstPorts) {
      if (!p.ports) continue;
      if (r.srcPorts && (p.ports[0] < r.srcPorts.from || p.ports[0] > r.srcPorts.to)) continue;
      if (r.dstPorts && (p.ports[1] < r.dstPorts.from || p.ports[1] > r.dstPorts.to)) continue;
    }
    return r.action === "allow" ? "pass" : "drop";
  }
  return def === "allow" ? "pass" : "drop";
}

/** Deterministic pseudo-random numbers so a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function randomRules(rand: () => number, n: number): AclRule[] {
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)];
  const v4 = (len: number): string => {
    const v = Math.floor(rand() * 2 ** 32) & (len === 0 ? 0 : ~0 << (32 - len));
    return `${[24, 16, 8, 0].map((s) => (v >>> s) & 255).join(".")}/${len}`;
  };
  const v6 = (len: number): string => {
    const groups = [0x2001, 0xdb8, pick([0, 1, 2]), pick([0, 0xffff]), 0, 0, 0, pick([0, 1, 0x10])];
    let v = groups.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
    v &= len === 0 ? 0n : ((1n << 128n) - 1n) ^ ((1n << BigInt(128 - len)) - 1n);
    const hex: string[] = [];
    for (let i = 7; i >= 0; i--) hex.push(((v >> BigInt(16 * i)) & 0xffffn).toString(16));
    return `${hex.join(":")}/${len}`;
  };
  const ports = (): { from: number; to: number } => {
    const lo = pick([0, 22, 53, 80, 443, 1024, 8000, 65535, Math.floor(rand() * 65536)]);
    return { from: lo, to: Math.min(65535, lo + pick([0, 0, 10, 1000, 70000])) };
  };
  return Array.from({ length: n }, () => {
    const r: AclRule = { action: rand() < 0.5 ? "allow" : "deny" };
    const fam = pick([4, 4, 6, 0]);
    // A rule of one family that names no address says so with the family's /0 prefix.
    if (fam === 4) {
      if (rand() < 0.6) r.src = v4(pick([8, 16, 24, 32, 0]));
      if (rand() < 0.7) r.dst = v4(pick([8, 16, 24, 32]));
      if (!r.src && !r.dst) r.src = "0.0.0.0/0";
    } else if (fam === 6) {
      if (rand() < 0.6) r.src = v6(pick([32, 48, 64, 128]));
      if (rand() < 0.7) r.dst = v6(pick([32, 48, 64, 128]));
      if (!r.src && !r.dst) r.src = "::/0";
    }
    if (rand() < 0.6) r.protocol = pick([6, 17, 1, 58]);
    if (rand() < 0.4) r.srcPorts = ports();
    if (rand() < 0.6) r.dstPorts = ports();
    return r;
  });
}

function packetsFor(rand: () => number, rules: AclRule[], n: number): Packet[] {
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)];
  // Near rule edges: the first and last address of a prefix and one either side.
  const near = (text: string | undefined, family: 4 | 6): bigint => {
    const width = family === 4 ? 32n : 128n;
    const max = (1n << width) - 1n;
    const pre = prefixOf(text);
    if (!pre || pre.family !== family || rand() < 0.2) {
      return family === 4 ? BigInt(Math.floor(rand() * 2 ** 32)) : BigInt(`0x${randomBytes(16).toString("hex")}`);
    }
    const size = 1n << (width - BigInt(pre.len));
    const base = (pre.v >> (width - BigInt(pre.len))) << (width - BigInt(pre.len));
    const c = pick([base, base + size - 1n, base - 1n, base + size, base + size / 2n]);
    return c < 0n ? 0n : c > max ? max : c;
  };
  return Array.from({ length: n }, () => {
    const r = pick(rules);
    const family: 4 | 6 = prefixOf(r.src)?.family ?? prefixOf(r.dst)?.family ?? pick([4, 6] as const);
    const proto = rand() < 0.8 && typeof r.protocol === "number" && r.protocol ? r.protocol : pick([6, 17, 1, 58, 47]);
    const edge = (range: { from: number; to: number } | undefined): number =>
      range ? Math.max(0, Math.min(65535, pick([range.from, range.to, range.from - 1, range.to + 1]))) : Math.floor(rand() * 65536);
    const p: Packet = { family, proto, src: near(r.src, family), dst: near(r.dst, family) };
    if (proto === 6 || proto === 17) p.ports = [edge(r.srcPorts), edge(r.dstPorts)];
    return p;
  });
}

describe("ACL compiler", () => {
  test("64 random rules: the compiled classifier agrees with first-match evaluation on 20,000 packets", () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const rand = rng(seed);
      const rules = randomRules(rand, MAX_ACL_RULES);
      for (const def of ["allow", "deny"] as const) {
        const buf = encodeAcl({ rules, defaultAction: def });
        const pkts = packetsFor(rand, rules, 2000);
        const wrong = pkts.filter((p) => classifyCompiled(buf, p) !== classifyNaive(rules, def, p));
        expect({ seed, def, wrong: wrong.slice(0, 3) }).toEqual({ seed, def, wrong: [] });
        // The random rules must exercise both outcomes, or agreement proves little.
        const outcomes = new Set(pkts.map((p) => classifyNaive(rules, def, p)));
        expect(outcomes.size).toBe(2);
      }
    }
  });

  test("first match wins; later rules and the default only see what earlier rules left", () => {
    const rules: AclRule[] = [
      { action: "deny", protocol: "tcp", dst: "10.0.0.0/8", dstPorts: { from: 22, to: 22 } },
      { action: "allow", dst: "10.0.0.0/8" },
      { action: "allow", src: "::/0", protocol: "icmpv6" },
    ];
    const buf = encodeAcl({ rules, defaultAction: "deny" });
    const v4 = (d: string): bigint => prefixOf(d)!.v;
    expect(classifyCompiled(buf, { family: 4, proto: 6, src: 1n, dst: v4("10.1.2.3"), ports: [40000, 22] })).toBe("drop");
    expect(classifyCompiled(buf, { family: 4, proto: 6, src: 1n, dst: v4("10.1.2.3"), ports: [40000, 23] })).toBe("pass");
    expect(classifyCompiled(buf, { family: 4, proto: 1, src: 1n, dst: v4("10.255.255.255") })).toBe("pass");
    expect(classifyCompiled(buf, { family: 4, proto: 6, src: 1n, dst: v4("11.0.0.0"), ports: [1, 2] })).toBe("drop");
    expect(classifyCompiled(buf, { family: 6, proto: 58, src: 5n, dst: 7n })).toBe("pass");
    expect(classifyCompiled(buf, { family: 6, proto: 17, src: 5n, dst: 7n, ports: [1, 2] })).toBe("drop");
  });

  test("empty ACL: every packet gets the default action; tables are one interval padded to the top", () => {
    const buf = encodeAcl({ rules: [], defaultAction: "allow" });
    expect(buf.length).toBe(STRUCTS.hvnet_acl.size);
    expect(buf.readUInt32LE(A.rule_count)).toBe(0);
    expect(buf[A.default_action]).toBe(1);
    expect(buf.readUInt32LE(A.src4 + 4)).toBe(0xffffffff);
    expect(buf.readUInt16LE(A.dport + 2 * (ACL_SLOTS - 1))).toBe(65535);
    expect(classifyCompiled(buf, { family: 4, proto: 17, src: 0n, dst: 0xffffffffn, ports: [0, 65535] })).toBe("pass");
  });

  test("rules are stored verbatim after the tables and decode back; tables are checked against them", () => {
    const rules: AclRule[] = [
      { action: "allow", protocol: "udp", src: "192.0.2.0/24", dstPorts: { from: 53, to: 53 } },
      { action: "deny", dst: "2001:db8::/32", srcPorts: { from: 1024, to: 65535 } },
      { action: "allow", src: "0.0.0.0/0" },
      { action: "deny" },
    ];
    const buf = encodeAcl({ rules, defaultAction: "deny" });
    const r0 = A.rules;
    const R = STRUCTS.hvnet_acl_rule.members;
    expect([buf[r0 + R.family], buf[r0 + R.proto], buf[r0 + R.action], buf[r0 + R.src_len], buf[r0 + R.dst_len]]).toEqual([4, 17, 1, 24, 0]);
    expect([buf.readUInt16LE(r0 + R.dport_lo), buf.readUInt16LE(r0 + R.dport_hi)]).toEqual([53, 53]);
    expect(buf.subarray(r0 + R.src, r0 + R.src + 4).toString("hex")).toBe("c0000200");
    // The family of each rule is stored; the users' shape has none, so a /0 reads back as no prefix.
    expect([0, 1, 2, 3].map((i) => buf[r0 + STRUCTS.hvnet_acl_rule.size * i + R.family])).toEqual([4, 6, 4, 0]);
    expect(decodeAcl(buf)).toEqual({
      defaultAction: "deny",
      rules: [
        { action: "allow", protocol: "udp", src: "192.0.2.0/24", dstPorts: { from: 53, to: 53 } },
        { action: "deny", dst: "2001:db8::/32", srcPorts: { from: 1024, to: 65535 } },
        { action: "allow" },
        { action: "deny" },
      ],
    });
    expect(aclTablesMatchRules(buf)).toBe(true);
    const tampered = Buffer.from(buf);
    tampered.writeBigUInt64LE(0n, A.pass_bits);
    expect(aclTablesMatchRules(tampered)).toBe(false);
  });

  test("refuses more than 64 rules, host bits, mixed families and bad port ranges", () => {
    const many = Array.from({ length: 65 }, () => ({ action: "allow" as const }));
    expect(() => encodeAcl({ rules: many, defaultAction: "deny" })).toThrow(/at most 64/);
    expect(() => encodeAcl({ rules: [{ action: "allow", src: "10.0.0.1/8" }], defaultAction: "deny" })).toThrow(/host bits/);
    expect(() => encodeAcl({ rules: [{ action: "allow", src: "10.0.0.0/8", dst: "2001:db8::/32" }], defaultAction: "deny" })).toThrow(
      /disagree/,
    );
    expect(() => encodeAcl({ rules: [{ action: "allow", dstPorts: { from: 10, to: 5 } }], defaultAction: "deny" })).toThrow(/lo <= hi/);
    expect(() => encodeAcl({ rules: [{ action: "allow", src: "10.0.0.0/33" }], defaultAction: "deny" })).toThrow(/prefix length/);
  });
});

describe("counters", () => {
  test("names map to the C enumerators in order", () => {
    expect(COUNTERS.length).toBe(16);
    expect(counterEnumName("drop_spoof_ip")).toBe("HVNET_CNT_DROP_SPOOF_IP");
    expect(encodeCounterKey("drop_acl").readUInt32LE(0)).toBe(14);
  });

  test("per-CPU values are summed over the CPUs", () => {
    const cpus = 3;
    const v = Buffer.alloc(16 * cpus);
    for (let c = 0; c < cpus; c++) {
      v.writeBigUInt64LE(BigInt(c + 1), 16 * c);
      v.writeBigUInt64LE(BigInt(100 * (c + 1)), 16 * c + 8);
    }
    expect(sumPerCpuCounter(v, cpus)).toEqual({ packets: 6n, bytes: 600n });
    const all = readCounters((k) => (k.readUInt32LE(0) === 0 ? v : undefined), cpus);
    expect(all.redirect).toEqual({ packets: 6n, bytes: 600n });
    expect(all.drop_acl).toEqual({ packets: 0n, bytes: 0n });
  });
});
