// Byte-for-byte checks of the SIOCETHTOOL structures. Offsets are those of
// include/uapi/linux/ethtool.h (line numbers of the 6.1 header installed by Debian's
// linux-libc-dev, /usr/include/linux/ethtool.h); every expected buffer below is written
// out by hand from the header, not produced by the code under test.
import * as S from "../../provider/helper/kernel/ethtool/structs";
import { decodeFlowRule, encodeFlowRule } from "../../provider/helper/kernel/ethtool/flow";
import { formatIPv6, parseIPv6 } from "../../provider/common/address";

const hex = (b: Buffer) => b.toString("hex");
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return hex(b);
};

describe("ethtool command numbers (ethtool.h:1543-1617, sockios.h)", () => {
  test("values", () => {
    expect(S.SIOCETHTOOL).toBe(0x8946);
    expect([S.ETHTOOL_GDRVINFO, S.ETHTOOL_GSTRINGS, S.ETHTOOL_GSSET_INFO]).toEqual([0x03, 0x1b, 0x37]);
    expect([S.ETHTOOL_GRXRINGS, S.ETHTOOL_GRXCLSRLCNT, S.ETHTOOL_GRXCLSRULE, S.ETHTOOL_GRXCLSRLALL]).toEqual([0x2d, 0x2e, 0x2f, 0x30]);
    expect([S.ETHTOOL_SRXCLSRLDEL, S.ETHTOOL_SRXCLSRLINS]).toEqual([0x31, 0x32]);
    expect([S.ETHTOOL_GFEATURES, S.ETHTOOL_SFEATURES, S.ETHTOOL_GCHANNELS, S.ETHTOOL_SCHANNELS]).toEqual([0x3a, 0x3b, 0x3c, 0x3d]);
    expect([S.ETHTOOL_GRSSH, S.ETHTOOL_SRSSH]).toEqual([0x46, 0x47]);
    // ethtool.h:1942-1983
    expect([S.TCP_V4_FLOW, S.UDP_V4_FLOW, S.TCP_V6_FLOW, S.UDP_V6_FLOW]).toEqual([1, 2, 5, 6]);
    expect([S.IPV4_USER_FLOW, S.IPV6_USER_FLOW, S.ETHER_FLOW, S.FLOW_RSS]).toEqual([0xd, 0xe, 0x12, 0x20000000]);
    expect([S.RX_CLS_LOC_ANY, S.RX_CLS_LOC_SPECIAL]).toEqual([0xffffffff, 0x80000000]);
    expect([S.ETH_RXFH_CONTEXT_ALLOC, S.ETH_RXFH_INDIR_NO_CHANGE]).toEqual([0xffffffff, 0xffffffff]);
  });
  test("commandName names known commands and shows others in hex", () => {
    expect(S.commandName(0x3c)).toBe("ETHTOOL_GCHANNELS");
    expect(S.commandName(0x99)).toBe("ethtool cmd 0x99");
  });
});

describe("struct ifreq (if.h:232-254)", () => {
  test("name in the first 16 bytes, ifr_data pointer little endian at 16, 40 bytes", () => {
    const b = S.encodeIfreqData("eth0", 0x1122334455667788n);
    expect(b.length).toBe(40);
    expect(hex(b)).toBe("65746830" + "00".repeat(12) + "8877665544332211" + "00".repeat(16));
  });
  test("a 15-byte name fits with its NUL; 16 bytes and bad characters are refused", () => {
    expect(S.encodeIfreqData("abcdefghijklmno", 1n).subarray(0, 16).toString("latin1")).toBe("abcdefghijklmno\0");
    expect(() => S.encodeIfreqData("abcdefghijklmnop", 1n)).toThrow(/invalid interface name/);
    expect(() => S.encodeIfreqData("a/b", 1n)).toThrow(/invalid interface name/);
    expect(() => S.encodeIfreqData("", 1n)).toThrow(/invalid interface name/);
  });
});

describe("struct ethtool_channels (ethtool.h:552-562)", () => {
  test("SCHANNELS: cmd then max_rx, max_tx, max_other, max_combined, rx, tx, other, combined", () => {
    const b = S.encodeChannels(S.ETHTOOL_SCHANNELS, { rx: 2, tx: 3, combined: 7, maxCombined: 9 });
    expect(hex(b)).toBe(u32(0x3d) + u32(0) + u32(0) + u32(0) + u32(9) + u32(2) + u32(3) + u32(0) + u32(7));
  });
  test("decode reads the same positions", () => {
    const b = Buffer.from(u32(0x3c) + u32(4) + u32(5) + u32(6) + u32(7) + u32(1) + u32(2) + u32(3) + u32(8), "hex");
    expect(S.decodeChannels(b)).toEqual({ maxRx: 4, maxTx: 5, maxOther: 6, maxCombined: 7, rx: 1, tx: 2, other: 3, combined: 8 });
  });
});

describe("struct ethtool_drvinfo (ethtool.h:185-197)", () => {
  test("request is 196 bytes with the command; driver at 4, bus_info at 100, n_stats at 180", () => {
    const req = S.encodeDrvinfoRequest();
    expect(req.length).toBe(196);
    expect(hex(req.subarray(0, 4))).toBe(u32(3));
    const b = Buffer.alloc(196);
    b.write("mlx5_core", 4);
    b.write("5.0", 36);
    b.write("16.35.2000", 68);
    b.write("0000:3b:00.0", 100);
    b.writeUInt32LE(123, 180);
    const d = S.decodeDrvinfo(b);
    expect(d).toMatchObject({ driver: "mlx5_core", version: "5.0", firmwareVersion: "16.35.2000", busInfo: "0000:3b:00.0", nStats: 123 });
  });
});

describe("string sets (ethtool.h:794-824)", () => {
  test("GSSET_INFO: cmd, reserved, u64 sset_mask at 8, one u32 per set at 16", () => {
    const b = S.encodeSsetInfoRequest([S.ETH_SS_FEATURES]);
    expect(hex(b)).toBe(u32(0x37) + u32(0) + "1000000000000000" + u32(0));
    // Kernel answer: only set 4 supported, 60 strings.
    b.writeUInt32LE(60, 16);
    expect(S.decodeSsetInfo(b)).toEqual(new Map([[4, 60]]));
  });
  test("GSTRINGS: cmd, string_set, len, then 32-byte NUL-padded strings at 12", () => {
    const b = S.encodeGstringsRequest(S.ETH_SS_RSS_HASH_FUNCS, 2);
    expect(b.length).toBe(12 + 64);
    expect(hex(b.subarray(0, 12))).toBe(u32(0x1b) + u32(5) + u32(2));
    b.write("toeplitz", 12);
    b.write("xor", 44);
    expect(S.decodeGstrings(b)).toEqual(["toeplitz", "xor"]);
  });
});

describe("features (ethtool.h:1346-1390)", () => {
  test("GFEATURES: cmd, size (words), 16-byte blocks {available, requested, active, never_changed}", () => {
    const b = S.encodeGfeaturesRequest(2);
    expect(b.length).toBe(8 + 32);
    expect(hex(b.subarray(0, 8))).toBe(u32(0x3a) + u32(2));
    b.writeUInt32LE(0xf, 8);
    b.writeUInt32LE(0x3, 12);
    b.writeUInt32LE(0x1, 16);
    b.writeUInt32LE(0x8, 20);
    b.writeUInt32LE(0x80000000, 24 + 8);
    expect(S.decodeGfeatures(b)).toEqual({
      size: 2,
      blocks: [
        { available: 0xf, requested: 3, active: 1, neverChanged: 8 },
        { available: 0, requested: 0, active: 0x80000000, neverChanged: 0 },
      ],
    });
  });
  test("SFEATURES: cmd, size, 8-byte blocks {valid, requested}", () => {
    const b = S.encodeSfeatures([{ valid: 0x4008, requested: 0x4000 }, { valid: 0x80000000, requested: 0 }]);
    expect(hex(b)).toBe(u32(0x3b) + u32(2) + u32(0x4008) + u32(0x4000) + u32(0x80000000) + u32(0));
  });
});

describe("struct ethtool_rxfh (ethtool.h:1239-1248, input_xfrm at 17 since 6.8)", () => {
  test("SRSSH create: rss_context ALLOC, sizes, hfunc at 16, input_xfrm at 17, reserved zero, table then key at 24", () => {
    const b = S.encodeRxfh(S.ETHTOOL_SRSSH, {
      rssContext: S.ETH_RXFH_CONTEXT_ALLOC,
      indirSize: 4,
      keySize: 3,
      hfunc: 1,
      inputXfrm: 0,
      indir: [6, 7, 6, 7],
      key: Buffer.from([0xaa, 0xbb, 0xcc]),
    });
    expect(hex(b)).toBe(
      u32(0x47) + "ffffffff" + u32(4) + u32(3) + "01" + "00" + "0000" + u32(0) + u32(6) + u32(7) + u32(6) + u32(7) + "aabbcc",
    );
  });
  test("SRSSH keep-table: indir_size NO_CHANGE and no table bytes follow", () => {
    const b = S.encodeRxfh(S.ETHTOOL_SRSSH, { rssContext: 3, indirSize: S.ETH_RXFH_INDIR_NO_CHANGE, keySize: 0, hfunc: 2, inputXfrm: 0 });
    expect(hex(b)).toBe(u32(0x47) + u32(3) + "ffffffff" + u32(0) + "02000000" + u32(0));
  });
  test("GRSSH probe is the 24-byte header with zero sizes", () => {
    const b = S.encodeRxfh(S.ETHTOOL_GRSSH, { rssContext: 0, indirSize: 0, keySize: 0, hfunc: 0, inputXfrm: 0 });
    expect(hex(b)).toBe(u32(0x46) + "00".repeat(20));
  });
  test("decode reads context, sizes, hfunc, input_xfrm, table and key", () => {
    const b = Buffer.from(u32(0x46) + u32(5) + u32(2) + u32(2) + "04" + "01" + "0000" + u32(0) + u32(9) + u32(3) + "beef", "hex");
    const r = S.decodeRxfh(b);
    expect(r).toEqual({ rssContext: 5, indirSize: 2, keySize: 2, hfunc: 4, inputXfrm: 1, indir: [9, 3], key: Buffer.from("beef", "hex") });
  });
  test("a table of the wrong length is refused", () => {
    expect(() => S.encodeRxfh(S.ETHTOOL_SRSSH, { rssContext: 0, indirSize: 4, keySize: 0, hfunc: 0, inputXfrm: 0, indir: [1] })).toThrow(
      /1 entries, expected 4/,
    );
  });
});

describe("struct ethtool_rxnfc + ethtool_rx_flow_spec (ethtool.h:1081-1089, 1177-1186)", () => {
  // rxnfc: cmd @0, flow_type @4, data @8, fs @16 (fs.flow_type @16, h_u @20, h_ext @72,
  // m_u @92, m_ext @144, ring_cookie @168, location @176), rss_context/rule_cnt @184,
  // rule_locs @188, sizeof 192.
  test("SRXCLSRLINS tcp4 dst 192.0.2.1:80 into RSS context 3 at RX_CLS_LOC_ANY", () => {
    const { fs, rssContext } = encodeFlowRule({ match: { type: "tcp4", dst: "192.0.2.1", dstPort: 80 }, action: { rssContext: 3 } });
    fs.location = S.RX_CLS_LOC_ANY;
    const b = S.encodeRxnfc({ cmd: S.ETHTOOL_SRXCLSRLINS, fs, ruleCnt: rssContext });
    const want = Buffer.alloc(192);
    want.writeUInt32LE(0x32, 0);
    want.writeUInt32LE(0x20000001, 16); // TCP_V4_FLOW | FLOW_RSS
    Buffer.from([192, 0, 2, 1]).copy(want, 20 + 4); // h_u.tcp_ip4_spec.ip4dst (:935)
    want.writeUInt16BE(80, 20 + 10); // h_u.tcp_ip4_spec.pdst (:937)
    want.writeUInt32BE(0xffffffff, 92 + 4); // m_u ip4dst
    want.writeUInt16BE(0xffff, 92 + 10); // m_u pdst
    want.writeUInt32LE(0xffffffff, 176); // location
    want.writeUInt32LE(3, 184); // rss_context
    expect(hex(b)).toBe(hex(want));
  });
  test("udp6 src prefix and src port to queue 5: ip6src @0, psrc @32 of tcp_ip6_spec (:987-993), ring_cookie 5", () => {
    const { fs, rssContext } = encodeFlowRule({ match: { type: "udp6", src: "2001:db8::/32", srcPort: 4789 }, action: { queue: 5 } });
    fs.location = 7;
    const b = S.encodeRxnfc({ cmd: S.ETHTOOL_SRXCLSRLINS, fs, ruleCnt: rssContext });
    const want = Buffer.alloc(192);
    want.writeUInt32LE(0x32, 0);
    want.writeUInt32LE(6, 16);
    Buffer.from("20010db8", "hex").copy(want, 20);
    want.writeUInt16BE(4789, 20 + 32);
    Buffer.from("ffffffff", "hex").copy(want, 92);
    want.writeUInt16BE(0xffff, 92 + 32);
    want.writeBigUInt64LE(5n, 168);
    want.writeUInt32LE(7, 176);
    expect(hex(b)).toBe(hex(want));
  });
  test("ip4 user flow sets ip_ver = ETH_RX_NFC_IP4 at 13 with a zero mask (:957, :965), proto at 14", () => {
    const { fs } = encodeFlowRule({ match: { type: "ip4", src: "10.1.0.0/16", proto: 17 }, action: { drop: true } });
    expect(fs.flowType).toBe(0x0d);
    expect(hex(fs.h.subarray(0, 16))).toBe("0a010000" + "00000000" + "00000000" + "00" + "01" + "11" + "00");
    expect(hex(fs.m.subarray(0, 16))).toBe("ffff0000" + "00000000" + "00000000" + "00" + "00" + "ff" + "00");
    expect(fs.ringCookie).toBe(0xffffffffffffffffn); // RX_CLS_FLOW_DISC (:1976)
  });
  test("ip6 user flow: l4_proto at 37 of usr_ip6_spec (:1019-1025)", () => {
    const { fs } = encodeFlowRule({ match: { type: "ip6", dst: "fd00::1", proto: 6 }, action: { queue: 1 } });
    expect(fs.flowType).toBe(0x0e);
    expect(hex(fs.h.subarray(16, 32))).toBe("fd000000000000000000000000000001");
    expect(fs.h[37]).toBe(6);
    expect(fs.m[37]).toBe(0xff);
  });
  test("ether flow: struct ethhdr h_dest @0, h_source @6, h_proto @12 (if_ether.h:173-177)", () => {
    const { fs } = encodeFlowRule({
      match: { type: "ether", dst: "02:00:00:00:00:01", etherType: 0x88cc },
      action: { queue: 0 },
    });
    expect(fs.flowType).toBe(0x12);
    expect(hex(fs.h.subarray(0, 14))).toBe("020000000001" + "000000000000" + "88cc");
    expect(hex(fs.m.subarray(0, 14))).toBe("ffffffffffff" + "000000000000" + "ffff");
  });
  test("GRXCLSRLALL: rule_cnt at 184 sizes the request, rule_locs read from 188", () => {
    const b = S.encodeRxnfc({ cmd: S.ETHTOOL_GRXCLSRLALL, ruleCnt: 3 }, 3);
    expect(b.length).toBe(200);
    expect(b.readUInt32LE(184)).toBe(3);
    b.writeBigUInt64LE(1024n, 8);
    b.writeUInt32LE(10, 188);
    b.writeUInt32LE(1023, 192);
    b.writeUInt32LE(4, 196);
    const r = S.decodeRxnfc(b);
    expect(r.ruleLocs).toEqual([10, 1023, 4]);
    expect(r.data).toBe(1024n);
  });
  test("decodeFlowRule gives back what encodeFlowRule took", () => {
    const rules = [
      { match: { type: "tcp4" as const, src: "198.51.100.0/24", dst: "192.0.2.9", srcPort: 1000, dstPort: 443 }, action: { rssContext: 2 } },
      { match: { type: "udp6" as const, dst: "2001:db8:1::42", dstPort: 53 }, action: { queue: 3 } },
      { match: { type: "ip6" as const, src: "fe80::/10", proto: 58 }, action: { drop: true as const } },
      { match: { type: "ether" as const, src: "aa:bb:cc:dd:ee:ff" }, action: { queue: 0 } },
    ];
    for (const rule of rules) {
      const { fs, rssContext } = encodeFlowRule(rule);
      fs.location = 12;
      const back = S.decodeFlowSpecAt(S.encodeRxnfc({ cmd: S.ETHTOOL_GRXCLSRULE, fs, ruleCnt: rssContext }), 16);
      expect(decodeFlowRule(back, rssContext)).toEqual({ location: 12, ...rule });
    }
  });
  test("invalid matches are refused with the field named", () => {
    expect(() => encodeFlowRule({ match: { type: "ip4", dstPort: 80 }, action: { queue: 0 } })).toThrow(/has no ports/);
    expect(() => encodeFlowRule({ match: { type: "tcp4", dst: "300.1.1.1" }, action: { queue: 0 } })).toThrow(/invalid IPv4/);
    expect(() => encodeFlowRule({ match: { type: "tcp4", dst: "1.1.1.1/33" }, action: { queue: 0 } })).toThrow(/prefix length/);
    expect(() => encodeFlowRule({ match: { type: "tcp4" }, action: { rssContext: 0 } })).toThrow(/invalid RSS context/);
  });
});

describe("IPv6 text ↔ bytes", () => {
  test.each([
    ["::", "00000000000000000000000000000000", "::"],
    ["2001:db8::1", "20010db8000000000000000000000001", "2001:db8::1"],
    ["fe80:0:0:0:1:0:0:1", "fe800000000000000001000000000001", "fe80::1:0:0:1"],
    ["::ffff:192.0.2.1", "00000000000000000000ffffc0000201", "::ffff:c000:201"],
    ["1:2:3:4:5:6:7:8", "00010002000300040005000600070008", "1:2:3:4:5:6:7:8"],
  ])("%s", (text, bytes, canonical) => {
    expect(hex(parseIPv6(text))).toBe(bytes);
    expect(formatIPv6(Buffer.from(bytes, "hex"))).toBe(canonical);
  });
});
