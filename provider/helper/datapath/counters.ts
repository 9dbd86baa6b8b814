// The datapath's per-CPU `stats` maps: one struct hvnet_counter per counter (named in
// provider/common/counters.ts, in enum hvnet_counter_index order) and per CPU.
import { COUNTERS, type CounterName } from "../../common/counters";
import { STRUCTS } from "./structs";

export interface Counter {
  packets: bigint;
  bytes: bigint;
}

export type Counters = Record<CounterName, Counter>;

/** The C enumerator of a counter name: "drop_spoof_ip" → HVNET_CNT_DROP_SPOOF_IP. */
export function counterEnumName(name: CounterName): string {
  return `HVNET_CNT_${name.toUpperCase()}`;
}

export function encodeCounterKey(name: CounterName): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(COUNTERS.indexOf(name), 0);
  return b;
}

/**
 * Sums one PERCPU_ARRAY value (cpus slots of struct hvnet_counter, each rounded up to 8
 * bytes, as BPF_MAP_LOOKUP_ELEM returns it) over the CPUs.
 */
export function sumPerCpuCounter(value: Buffer, cpus: number): Counter {
  const stride = STRUCTS.hvnet_counter.size; // already a multiple of 8
  if (value.length < stride * cpus) throw new RangeError(`per-CPU counter value is ${value.length} bytes, expected ${stride * cpus}`);
  let packets = 0n;
  let bytes = 0n;
  for (let c = 0; c < cpus; c++) {
    packets += value.readBigUInt64LE(c * stride + STRUCTS.hvnet_counter.members.packets);
    bytes += value.readBigUInt64LE(c * stride + STRUCTS.hvnet_counter.members.bytes);
  }
  return { packets, bytes };
}

/** Reads every counter through a lookup function (e.g. BpfMap.lookup of a `stats` map). */
export function readCounters(lookup: (key: Buffer) => Buffer | undefined, cpus: number): Counters {
  const out = {} as Counters;
  for (const name of COUNTERS) {
    const v = lookup(encodeCounterKey(name));
    out[name] = v ? sumPerCpuCounter(v, cpus) : { packets: 0n, bytes: 0n };
  }
  return out;
}
