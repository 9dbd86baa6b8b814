// A test double of the kernel at the SIOCETHTOOL boundary: a NIC with channels, an RSS
// indirection table, optional additional RSS contexts and an ntuple rule table, applying
// the kernel's and a typical driver's rules (net/ethtool/ioctl.c: ethtool_get_rxfh,
// ethtool_set_rxfh, ethtool_set_channels/ethtool_check_max_channel, ethtool_get_rxnfc,
// ethtool_set_rxnfc). This machine has no NIC with RSS contexts or ntuple filters, so the
// modules above the ioctl are tested against this instead; tests using it say
// "(test double, not the kernel)".
//
// It reads and writes the structures at raw byte offsets of its own (from the UAPI
// header), not through the encoders under test, so a wrong offset there shows up here.
import { EthtoolDevice } from "../../provider/helper/kernel/ethtool/ioctl";
import { EthtoolError } from "../../provider/helper/kernel/ethtool/errors";

const C = {
  GDRVINFO: 0x03,
  GSTRINGS: 0x1b,
  GRXRINGS: 0x2d,
  GRXCLSRLCNT: 0x2e,
  GRXCLSRULE: 0x2f,
  GRXCLSRLALL: 0x30,
  SRXCLSRLDEL: 0x31,
  SRXCLSRLINS: 0x32,
  GSSET_INFO: 0x37,
  GCHANNELS: 0x3c,
  SCHANNELS: 0x3d,
  GRSSH: 0x46,
  SRSSH: 0x47,
};
const ALLOC = 0xffffffff;
const NO_CHANGE = 0xffffffff;
const FLOW_RSS = 0x20000000;
const LOC_SPECIAL = 0x80000000;
const LOC_ANY = 0xffffffff;
const FLOW_DISC = 0xffffffffffffffffn;
const ETH_SS_RSS_HASH_FUNCS = 5;

// struct ethtool_rxnfc offsets (ethtool.h:1177-1186): fs at 16, fs.ring_cookie at 16+152,
// fs.location at 16+160, the rule_cnt/rss_context union at 184, rule_locs at 188.
const NFC = { flowType: 16, ringCookie: 168, location: 176, ruleCnt: 184, ruleLocs: 188, size: 192, fsLen: 168 };

export interface FakeNicOptions {
  ifname?: string;
  driver?: string;
  combined?: number;
  maxCombined?: number;
  /** The driver implements RSS at all (get/set_rxfh). Default true. */
  rss?: boolean;
  indirSize?: number;
  keySize?: number;
  /** Additional RSS contexts (create_rxfh_context). Default false. */
  contexts?: boolean;
  /** Per-context key and hash function (rxfh_per_ctx_key). Default false. */
  perContextKey?: boolean;
  maxContexts?: number;
  /** Ids the driver hands out, in order (drivers choose; not necessarily 1, 2, ...). */
  contextIds?: number[];
  /** ntuple filters: "special" = the driver picks locations (RX_CLS_LOC_SPECIAL). */
  ntuple?: false | "special" | { tableSize: number };
  hashFunctions?: string[];
}

export interface FakeContext {
  indir: number[];
  key: Buffer;
  hfunc: number;
}

export interface FakeRule {
  /** struct ethtool_rx_flow_spec as the driver stored it (168 bytes). */
  fs: Buffer;
  rssContext: number;
  flowType: number;
  ringCookie: bigint;
}

export class FakeEthtoolNic implements EthtoolDevice {
  readonly ifname: string;
  readonly driver: string;
  readonly opts: Required<Omit<FakeNicOptions, "ntuple" | "contextIds">> & { ntuple: FakeNicOptions["ntuple"] };
  combined: number;
  /** Context 0 is the default one; others appear as the driver creates them. */
  readonly contexts = new Map<number, FakeContext>();
  defaultConfigured = false;
  readonly rules = new Map<number, FakeRule>();
  /** Every command received, in order, with the rule location for rule commands. */
  readonly log: { cmd: number; location?: number; rssContext?: number }[] = [];
  private nextIds: number[];

  constructor(o: FakeNicOptions = {}) {
    this.opts = {
      ifname: o.ifname ?? "eth0",
      driver: o.driver ?? "fakenic",
      combined: o.combined ?? 8,
      maxCombined: o.maxCombined ?? 16,
      rss: o.rss ?? true,
      indirSize: o.indirSize ?? 128,
      keySize: o.keySize ?? 40,
      contexts: o.contexts ?? false,
      perContextKey: o.perContextKey ?? false,
      maxContexts: o.maxContexts ?? 8,
      ntuple: o.ntuple ?? false,
      hashFunctions: o.hashFunctions ?? ["toeplitz", "xor", "crc32"],
    };
    this.ifname = this.opts.ifname;
    this.driver = this.opts.driver;
    this.combined = this.opts.combined;
    this.nextIds = [...(o.contextIds ?? [1, 2, 3, 4, 5, 6, 7, 8])];
    this.contexts.set(0, { indir: this.defaultTable(), key: Buffer.alloc(this.opts.keySize, 0x6d), hfunc: 1 });
  }

  private defaultTable(): number[] {
    return Array.from({ length: this.opts.indirSize }, (_, i) => i % this.combined);
  }

  private fail(cmd: number, code: string): never {
    throw EthtoolError.of(cmd, this.ifname, code);
  }

  private need(cmd: number, b: Buffer, len: number): void {
    if (b.length < len) this.fail(cmd, "EFAULT");
  }

  ioctl(ifname: string, b: Buffer): void {
    const cmd = b.readUInt32LE(0);
    if (ifname !== this.ifname) this.fail(cmd, "ENODEV");
    const entry: { cmd: number; location?: number; rssContext?: number } = { cmd };
    this.log.push(entry);
    switch (cmd) {
      case C.GDRVINFO:
        this.need(cmd, b, 196);
        b.fill(0, 4, 36);
        b.write(this.driver, 4, 31);
        return;
      case C.GCHANNELS:
        this.need(cmd, b, 36);
        b.fill(0, 4, 36);
        b.writeUInt32LE(this.opts.maxCombined, 16);
        b.writeUInt32LE(this.combined, 32);
        return;
      case C.SCHANNELS:
        return this.setChannels(cmd, b);
      case C.GRXRINGS:
        this.need(cmd, b, NFC.size);
        if (!this.opts.rss && !this.opts.ntuple) this.fail(cmd, "EOPNOTSUPP");
        b.writeBigUInt64LE(BigInt(this.combined), 8);
        return;
      case C.GRSSH:
        return this.getRxfh(cmd, b);
      case C.SRSSH:
        return this.setRxfh(cmd, b);
      case C.GSSET_INFO:
        return this.ssetInfo(cmd, b);
      case C.GSTRINGS:
        return this.strings(cmd, b);
      case C.GRXCLSRLCNT:
      case C.GRXCLSRLALL:
      case C.GRXCLSRULE:
      case C.SRXCLSRLINS:
      case C.SRXCLSRLDEL:
        return this.rxnfc(cmd, b, entry);
      default:
        this.fail(cmd, "EOPNOTSUPP");
    }
  }

  /** Highest queue any context table or queue-steering rule still uses (-1: none). */
  private highestUsedQueue(): number {
    let max = -1;
    for (const [id, ctx] of this.contexts) {
      if (id === 0 && !this.defaultConfigured) continue;
      for (const q of ctx.indir) max = Math.max(max, q);
    }
    for (const r of this.rules.values()) {
      if (!(r.flowType & FLOW_RSS) && r.ringCookie !== FLOW_DISC) max = Math.max(max, Number(r.ringCookie & 0xffffffffn));
    }
    return max;
  }

  private setChannels(cmd: number, b: Buffer): void {
    this.need(cmd, b, 36);
    const rx = b.readUInt32LE(20);
    const tx = b.readUInt32LE(24);
    const other = b.readUInt32LE(28);
    const combined = b.readUInt32LE(32);
    if (rx || tx || other) this.fail(cmd, "EINVAL"); // combined-only NIC: max_rx/tx/other are 0
    if (combined === 0 || combined > this.opts.maxCombined) this.fail(cmd, "EINVAL");
    // ethtool_check_max_channel: no queue in use may disappear.
    if (this.highestUsedQueue() >= combined) this.fail(cmd, "EINVAL");
    this.combined = combined;
    if (!this.defaultConfigured) this.contexts.get(0)!.indir = this.defaultTable();
  }

  private getRxfh(cmd: number, b: Buffer): void {
    this.need(cmd, b, 24);
    if (!this.opts.rss) this.fail(cmd, "EOPNOTSUPP");
    if (b[18] || b[19] || b.readUInt32LE(20)) this.fail(cmd, "EINVAL");
    const id = b.readUInt32LE(4);
    if (id !== 0 && !this.opts.contexts) this.fail(cmd, "EOPNOTSUPP");
    const ctx = this.contexts.get(id);
    if (!ctx) this.fail(cmd, "ENOENT");
    const userIndir = b.readUInt32LE(8);
    const userKey = b.readUInt32LE(12);
    b.writeUInt32LE(this.opts.indirSize, 8);
    b.writeUInt32LE(this.opts.keySize, 12);
    if ((userIndir && userIndir !== this.opts.indirSize) || (userKey && userKey !== this.opts.keySize)) this.fail(cmd, "EINVAL");
    this.need(cmd, b, 24 + 4 * userIndir + userKey);
    b.writeUInt8(ctx.hfunc, 16);
    if (userIndir) ctx.indir.forEach((q, i) => b.writeUInt32LE(q, 24 + 4 * i));
    if (userKey) ctx.key.copy(b, 24 + 4 * userIndir);
  }

  private setRxfh(cmd: number, b: Buffer): void {
    this.need(cmd, b, 24);
    if (!this.opts.rss) this.fail(cmd, "EOPNOTSUPP");
    if (b[18] || b[19] || b.readUInt32LE(20)) this.fail(cmd, "EINVAL");
    const id = b.readUInt32LE(4);
    const indirSize = b.readUInt32LE(8);
    const keySize = b.readUInt32LE(12);
    const hfunc = b[16];
    const xfrm = b[17];
    if (id !== 0 && !this.opts.contexts) this.fail(cmd, "EOPNOTSUPP");
    if (id !== 0 && !this.opts.perContextKey && (keySize || hfunc || (xfrm && xfrm !== 0xff))) this.fail(cmd, "EOPNOTSUPP");
    if (
      (indirSize && indirSize !== NO_CHANGE && indirSize !== this.opts.indirSize) ||
      (keySize && keySize !== this.opts.keySize) ||
      (indirSize === NO_CHANGE && keySize === 0 && hfunc === 0)
    ) {
      this.fail(cmd, "EINVAL");
    }
    const tableLen = indirSize === NO_CHANGE ? 0 : indirSize;
    this.need(cmd, b, 24 + 4 * tableLen + keySize);
    const table: number[] = [];
    for (let i = 0; i < tableLen; i++) table.push(b.readUInt32LE(24 + 4 * i));
    if (table.some((q) => q >= this.combined)) this.fail(cmd, "EINVAL");
    const key = keySize ? Buffer.from(b.subarray(24 + 4 * tableLen, 24 + 4 * tableLen + keySize)) : undefined;
    const create = id === ALLOC;
    const del = indirSize === 0 && id !== 0;

    if (create) {
      if (del || indirSize === 0) this.fail(cmd, "EINVAL");
      if (this.contexts.size - 1 >= this.opts.maxContexts) this.fail(cmd, "ENOSPC");
      const newId = this.nextIds.shift();
      if (newId === undefined) this.fail(cmd, "ENOSPC");
      this.contexts.set(newId, {
        indir: table,
        key: key ?? Buffer.from(this.contexts.get(0)!.key),
        hfunc: hfunc || this.contexts.get(0)!.hfunc,
      });
      b.writeUInt32LE(newId, 4);
      return;
    }
    const ctx = this.contexts.get(id);
    if (!ctx) this.fail(cmd, "ENOENT");
    if (del) {
      // Since 6.13 (ethtool_check_rss_ctx_busy): no deleting a context rules point at.
      for (const r of this.rules.values()) if (r.flowType & FLOW_RSS && r.rssContext === id) this.fail(cmd, "EBUSY");
      this.contexts.delete(id);
      return;
    }
    if (id === 0 && indirSize === 0) {
      ctx.indir = this.defaultTable();
      this.defaultConfigured = false;
    } else if (tableLen) {
      ctx.indir = table;
      if (id === 0) this.defaultConfigured = true;
    }
    if (key) ctx.key = key;
    if (hfunc) ctx.hfunc = hfunc;
  }

  private ssetInfo(cmd: number, b: Buffer): void {
    this.need(cmd, b, 16);
    const mask = b.readBigUInt64LE(8);
    const supported = mask & (1n << BigInt(ETH_SS_RSS_HASH_FUNCS));
    b.writeBigUInt64LE(supported, 8);
    if (supported) {
      this.need(cmd, b, 20);
      b.writeUInt32LE(this.opts.hashFunctions.length, 16);
    }
  }

  private strings(cmd: number, b: Buffer): void {
    this.need(cmd, b, 12);
    if (b.readUInt32LE(4) !== ETH_SS_RSS_HASH_FUNCS) this.fail(cmd, "EOPNOTSUPP");
    const names = this.opts.hashFunctions;
    this.need(cmd, b, 12 + 32 * names.length);
    b.writeUInt32LE(names.length, 8);
    names.forEach((n, i) => {
      b.fill(0, 12 + 32 * i, 12 + 32 * (i + 1));
      b.write(n, 12 + 32 * i, 31);
    });
  }

  private tableSize(): number {
    const n = this.opts.ntuple;
    return typeof n === "object" && n ? n.tableSize : 1024;
  }

  private rxnfc(cmd: number, b: Buffer, entry: { location?: number; rssContext?: number }): void {
    this.need(cmd, b, NFC.size);
    if (!this.opts.ntuple) this.fail(cmd, "EOPNOTSUPP");
    const special = this.opts.ntuple === "special";
    switch (cmd) {
      case C.GRXCLSRLCNT:
        b.writeUInt32LE(this.rules.size, NFC.ruleCnt);
        b.writeBigUInt64LE(BigInt((this.tableSize() | (special ? LOC_SPECIAL : 0)) >>> 0), 8);
        return;
      case C.GRXCLSRLALL: {
        const room = b.readUInt32LE(NFC.ruleCnt);
        if (room < this.rules.size) this.fail(cmd, "EMSGSIZE");
        this.need(cmd, b, NFC.ruleLocs + 4 * this.rules.size);
        b.writeBigUInt64LE(BigInt(this.tableSize()), 8);
        b.writeUInt32LE(this.rules.size, NFC.ruleCnt);
        [...this.rules.keys()].sort((x, y) => x - y).forEach((loc, i) => b.writeUInt32LE(loc, NFC.ruleLocs + 4 * i));
        return;
      }
      case C.GRXCLSRULE: {
        const r = this.rules.get(b.readUInt32LE(NFC.location));
        if (!r) this.fail(cmd, "ENOENT");
        r.fs.copy(b, NFC.flowType);
        b.writeUInt32LE(r.flowType & FLOW_RSS ? r.rssContext : 0, NFC.ruleCnt);
        return;
      }
      case C.SRXCLSRLDEL: {
        const loc = b.readUInt32LE(NFC.location);
        entry.location = loc;
        if (!this.rules.delete(loc)) this.fail(cmd, "ENOENT");
        return;
      }
      case C.SRXCLSRLINS: {
        const flowType = b.readUInt32LE(NFC.flowType);
        const ringCookie = b.readBigUInt64LE(NFC.ringCookie);
        const rssContext = b.readUInt32LE(NFC.ruleCnt);
        let loc = b.readUInt32LE(NFC.location);
        entry.location = loc;
        entry.rssContext = rssContext;
        if (flowType & FLOW_RSS) {
          // net/ethtool/ioctl.c ethtool_set_rxnfc (6.13): no queue offset, context must exist.
          if (ringCookie !== 0n) this.fail(cmd, "EINVAL");
          if (!rssContext || !this.contexts.has(rssContext)) this.fail(cmd, "EINVAL");
        } else if (ringCookie !== FLOW_DISC && Number(ringCookie & 0xffffffffn) >= this.combined) {
          this.fail(cmd, "EINVAL");
        }
        if (loc === LOC_ANY) {
          if (!special) this.fail(cmd, "EINVAL");
          loc = 0;
          while (this.rules.has(loc)) loc++;
        } else if (loc >= this.tableSize()) {
          this.fail(cmd, "EINVAL");
        }
        const fs = Buffer.from(b.subarray(NFC.flowType, NFC.flowType + NFC.fsLen));
        fs.writeUInt32LE(loc, 160);
        this.rules.set(loc, { fs, rssContext, flowType, ringCookie });
        b.writeUInt32LE(loc, NFC.location);
        return;
      }
    }
  }

  commands(): number[] {
    return this.log.map((e) => e.cmd);
  }
}
