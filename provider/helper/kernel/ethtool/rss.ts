// RSS indirection tables and additional RSS contexts over ETHTOOL_GRSSH / ETHTOOL_SRSSH
// (the ioctl path works from 4.17 on; the netlink RSS ops arrived much later).
//
// Kernel rules this module relies on (net/ethtool/ioctl.c, ethtool_get_rxfh/_set_rxfh):
// - GRSSH with indir_size = key_size = 0 only reports the sizes; with the right sizes it
//   returns the table and key; any other size is EINVAL.
// - SRSSH rss_context = ETH_RXFH_CONTEXT_ALLOC creates a context and writes its id back;
//   indir_size = 0 on context 0 restores the default spread, on another context deletes
//   it (refused with EBUSY while ntuple rules point at it, since 6.13);
//   ETH_RXFH_INDIR_NO_CHANGE keeps the table.
// - Table entries must be below the RX ring count (ETHTOOL_GRXRINGS), else EINVAL.
// - input_xfrm was a reserved byte before 6.8 (must be 0); 0 is accepted everywhere.
import {
  EthtoolError,
  EthtoolOperationError,
  RssContextBusyError,
  RssContextNotFoundError,
  RssContextsUnsupportedError,
  RssUnsupportedError,
} from "./errors";
import { driverNameOf } from "./drvinfo";
import { EthtoolDevice } from "./ioctl";
import {
  decodeGstrings,
  decodeRxfh,
  decodeRxnfc,
  decodeSsetInfo,
  encodeGstringsRequest,
  encodeRxfh,
  encodeRxnfc,
  encodeSsetInfoRequest,
  ETH_RSS_HASH_NO_CHANGE,
  ETH_RXFH_CONTEXT_ALLOC,
  ETH_RXFH_INDIR_NO_CHANGE,
  ETH_SS_RSS_HASH_FUNCS,
  ETHTOOL_GRSSH,
  ETHTOOL_GRXRINGS,
  ETHTOOL_SRSSH,
  Rxfh,
} from "./structs";

export interface RssState {
  context: number;
  indirection: number[];
  key: Buffer;
  /** Bit mask of the active hash function (bit i = ETH_SS_RSS_HASH_FUNCS string i). */
  hfunc: number;
  inputXfrm: number;
}

export interface ContextConfig {
  /** The whole indirection table (length = the driver's table size)... */
  table?: number[];
  /** ...or "start N equal M": indir[i] = start + (i % count). */
  queues?: { start: number; count: number };
  key?: Buffer;
  /** A hash function bit mask, or its name ("toeplitz", "xor", "crc32"). */
  hfunc?: number | string;
  inputXfrm?: number;
}

type Op = "get" | "set" | "create" | "modify" | "delete";

function hasRss(dev: EthtoolDevice, ifname: string): boolean {
  try {
    getRssSizes(dev, ifname, 0);
    return true;
  } catch {
    return false;
  }
}

/** Turns the errnos with a known meaning into errors that name the driver. */
function classify(e: unknown, dev: EthtoolDevice, ifname: string, context: number, op: Op, perContextHash = false): never {
  if (!(e instanceof EthtoolError)) throw e;
  const onContext = context !== 0;
  if (e.code === "EOPNOTSUPP") {
    const driver = driverNameOf(dev, ifname);
    if (!onContext || !hasRss(dev, ifname)) throw new RssUnsupportedError(ifname, driver, e);
    if (perContextHash) {
      throw new EthtoolOperationError(
        `driver ${driver ?? "(unknown)"} of ${ifname} refused the RSS context: it has no additional contexts or no per-context hash key/function`,
        ifname,
        driver,
        e,
      );
    }
    throw new RssContextsUnsupportedError(ifname, driver, e);
  }
  if (e.code === "ENOENT" && onContext && context !== ETH_RXFH_CONTEXT_ALLOC) {
    throw new RssContextNotFoundError(ifname, driverNameOf(dev, ifname), context, e);
  }
  if (e.code === "EBUSY" && op === "delete") {
    throw new RssContextBusyError(ifname, driverNameOf(dev, ifname), context, e);
  }
  throw e;
}

function rxfh(dev: EthtoolDevice, ifname: string, cmd: number, r: Rxfh): Rxfh {
  const b = encodeRxfh(cmd, r);
  dev.ioctl(ifname, b);
  return decodeRxfh(b);
}

/** Table and key sizes of the driver (the same for every context). */
export function getRssSizes(dev: EthtoolDevice, ifname: string, context = 0): { indirSize: number; keySize: number } {
  try {
    const r = rxfh(dev, ifname, ETHTOOL_GRSSH, { rssContext: context, indirSize: 0, keySize: 0, hfunc: 0, inputXfrm: 0 });
    return { indirSize: r.indirSize, keySize: r.keySize };
  } catch (e) {
    classify(e, dev, ifname, context, "get");
  }
}

export function getRss(dev: EthtoolDevice, ifname: string, context = 0): RssState {
  const { indirSize, keySize } = getRssSizes(dev, ifname, context);
  try {
    const r = rxfh(dev, ifname, ETHTOOL_GRSSH, { rssContext: context, indirSize, keySize, hfunc: 0, inputXfrm: 0 });
    return {
      context,
      indirection: r.indir ?? [],
      key: r.key ?? Buffer.alloc(0),
      hfunc: r.hfunc,
      inputXfrm: r.inputXfrm,
    };
  } catch (e) {
    classify(e, dev, ifname, context, "get");
  }
}

export function getIndirection(dev: EthtoolDevice, ifname: string, context = 0): number[] {
  return getRss(dev, ifname, context).indirection;
}

/** RX rings the indirection table may point at (ETHTOOL_GRXRINGS); undefined if unknown. */
function getRxRings(dev: EthtoolDevice, ifname: string): number | undefined {
  const b = encodeRxnfc({ cmd: ETHTOOL_GRXRINGS });
  try {
    dev.ioctl(ifname, b);
  } catch (e) {
    if (e instanceof EthtoolError && e.code === "EOPNOTSUPP") return undefined;
    throw e;
  }
  return Number(decodeRxnfc(b).data);
}

/** `ethtool -X dev start N equal M`: indir[i] = start + (i % count) over `size` buckets. */
export function equalTable(size: number, start: number, count: number): number[] {
  if (!Number.isInteger(size) || size <= 0) throw new Error(`invalid indirection table size ${size}`);
  if (!Number.isInteger(start) || start < 0) throw new Error(`invalid queues.start ${start}`);
  if (!Number.isInteger(count) || count < 1) throw new Error(`invalid queues.count ${count}`);
  return Array.from({ length: size }, (_, i) => start + (i % count));
}

/** The hash function names the driver knows, in bit order. */
function hashFunctionNames(dev: EthtoolDevice, ifname: string): string[] {
  const info = encodeSsetInfoRequest([ETH_SS_RSS_HASH_FUNCS]);
  dev.ioctl(ifname, info);
  const count = decodeSsetInfo(info).get(ETH_SS_RSS_HASH_FUNCS) ?? 0;
  if (count === 0) return [];
  const b = encodeGstringsRequest(ETH_SS_RSS_HASH_FUNCS, count);
  dev.ioctl(ifname, b);
  return decodeGstrings(b);
}

function resolveHfunc(dev: EthtoolDevice, ifname: string, hfunc: number | string | undefined): number {
  if (hfunc === undefined) return ETH_RSS_HASH_NO_CHANGE;
  if (typeof hfunc === "number") {
    if (!Number.isInteger(hfunc) || hfunc < 0 || hfunc > 0xff) throw new Error(`invalid hash function ${hfunc}`);
    return hfunc;
  }
  const names = hashFunctionNames(dev, ifname);
  const i = names.indexOf(hfunc);
  if (i < 0) throw new Error(`${ifname}: unknown hash function ${JSON.stringify(hfunc)} (driver offers: ${names.join(", ") || "none"})`);
  return 1 << i;
}

/** The table a config asks for, checked against the driver's size and ring count. */
function resolveTable(dev: EthtoolDevice, ifname: string, cfg: ContextConfig, indirSize: number): number[] | undefined {
  if (cfg.table && cfg.queues) throw new Error("give either table or queues, not both");
  const table = cfg.queues ? equalTable(indirSize, cfg.queues.start, cfg.queues.count) : cfg.table;
  if (!table) return undefined;
  if (table.length !== indirSize) {
    throw new Error(`${ifname}: indirection table has ${table.length} entries, the driver's has ${indirSize}`);
  }
  for (const q of table) if (!Number.isInteger(q) || q < 0) throw new Error(`invalid queue ${q} in indirection table`);
  const rings = getRxRings(dev, ifname);
  const highest = Math.max(...table);
  if (rings !== undefined && highest >= rings) {
    throw new Error(`${ifname}: queues reach queue ${highest}, beyond the ${rings} RX queues (channel count) of the device`);
  }
  return table;
}

function checkKey(ifname: string, key: Buffer | undefined, keySize: number): void {
  if (key && key.length !== keySize) throw new Error(`${ifname}: hash key has ${key.length} bytes, the driver's has ${keySize}`);
}

function write(dev: EthtoolDevice, ifname: string, context: number, op: Op, r: Rxfh, perContextHash: boolean): Rxfh {
  try {
    return rxfh(dev, ifname, ETHTOOL_SRSSH, r);
  } catch (e) {
    classify(e, dev, ifname, context, op, perContextHash);
  }
}

/** Rewrites the table of a context (0 = the default one). */
export function setIndirection(dev: EthtoolDevice, ifname: string, context: number, table: number[]): void {
  modifyContext(dev, ifname, context, { table });
}

/** `start N equal M` on a context; returns the table written. */
export function setEqual(dev: EthtoolDevice, ifname: string, context: number, start: number, count: number): number[] {
  const { indirSize } = getRssSizes(dev, ifname, 0);
  const table = equalTable(indirSize, start, count);
  setIndirection(dev, ifname, context, table);
  return table;
}

/** Creates an additional RSS context and returns the id the driver chose. */
export function createContext(dev: EthtoolDevice, ifname: string, cfg: ContextConfig): number {
  const { indirSize, keySize } = getRssSizes(dev, ifname, 0);
  const table = resolveTable(dev, ifname, cfg, indirSize);
  // The kernel refuses to create a context without a table (indir_size 0 means delete).
  if (!table) throw new Error("an RSS context needs a table or queues");
  checkKey(ifname, cfg.key, cfg.key ? keySize : 0);
  const hfunc = resolveHfunc(dev, ifname, cfg.hfunc);
  const perContextHash = !!cfg.key || hfunc !== ETH_RSS_HASH_NO_CHANGE || !!cfg.inputXfrm;
  const out = write(
    dev,
    ifname,
    ETH_RXFH_CONTEXT_ALLOC,
    "create",
    {
      rssContext: ETH_RXFH_CONTEXT_ALLOC,
      indirSize,
      keySize: cfg.key ? keySize : 0,
      hfunc,
      inputXfrm: cfg.inputXfrm ?? 0,
      indir: table,
      key: cfg.key,
    },
    perContextHash,
  );
  if (out.rssContext === 0 || out.rssContext === ETH_RXFH_CONTEXT_ALLOC) {
    throw new EthtoolOperationError(`${ifname}: the driver created no RSS context id`, ifname, driverNameOf(dev, ifname));
  }
  return out.rssContext;
}

/** Changes the table, key or hash function of a context; what is not given is kept. */
export function modifyContext(dev: EthtoolDevice, ifname: string, context: number, cfg: ContextConfig): void {
  if (!Number.isInteger(context) || context < 0 || context === ETH_RXFH_CONTEXT_ALLOC) {
    throw new Error(`invalid RSS context ${context}`);
  }
  const { indirSize, keySize } = getRssSizes(dev, ifname, context);
  const table = resolveTable(dev, ifname, cfg, indirSize);
  checkKey(ifname, cfg.key, cfg.key ? keySize : 0);
  const hfunc = resolveHfunc(dev, ifname, cfg.hfunc);
  if (!table && !cfg.key && hfunc === ETH_RSS_HASH_NO_CHANGE && cfg.inputXfrm === undefined) return;
  // Context 0: send back the current input_xfrm so a symmetric hash set by the operator
  // stays; on kernels before 6.8 GRSSH reports 0 there, the only value they accept.
  const inputXfrm = cfg.inputXfrm ?? (context === 0 ? getRss(dev, ifname, 0).inputXfrm : 0);
  const perContextHash = context !== 0 && (!!cfg.key || hfunc !== ETH_RSS_HASH_NO_CHANGE || !!cfg.inputXfrm);
  write(
    dev,
    ifname,
    context,
    "modify",
    {
      rssContext: context,
      // NO_CHANGE keeps the table when only the key or function changes.
      indirSize: table ? indirSize : ETH_RXFH_INDIR_NO_CHANGE,
      keySize: cfg.key ? keySize : 0,
      hfunc,
      inputXfrm,
      indir: table,
      key: cfg.key,
    },
    perContextHash,
  );
}

/** Deletes an additional context (its ntuple rules must be gone first). */
export function deleteContext(dev: EthtoolDevice, ifname: string, context: number): void {
  if (!Number.isInteger(context) || context <= 0 || context === ETH_RXFH_CONTEXT_ALLOC) {
    throw new Error(`invalid RSS context ${context}: only additional contexts can be deleted`);
  }
  write(dev, ifname, context, "delete", { rssContext: context, indirSize: 0, keySize: 0, hfunc: 0, inputXfrm: 0 }, false);
}

/** Restores the driver's default spread on context 0 (`ethtool -X dev default`). */
export function resetDefaultIndirection(dev: EthtoolDevice, ifname: string): void {
  const inputXfrm = getRss(dev, ifname, 0).inputXfrm;
  write(dev, ifname, 0, "set", { rssContext: 0, indirSize: 0, keySize: 0, hfunc: 0, inputXfrm }, false);
}

/**
 * Whether the driver implements additional RSS contexts, asked of the kernel: create a
 * one-queue context and delete it again. No driver list: drivers gain context support
 * over releases and distributions backport it. The context lives for one ioctl round
 * trip, carries no ntuple rule and so steers nothing.
 */
export function supportsRssContexts(dev: EthtoolDevice, ifname: string): boolean {
  let id: number;
  try {
    id = createContext(dev, ifname, { queues: { start: 0, count: 1 } });
  } catch (e) {
    if (e instanceof RssContextsUnsupportedError || e instanceof RssUnsupportedError) return false;
    throw e;
  }
  deleteContext(dev, ifname, id);
  return true;
}
