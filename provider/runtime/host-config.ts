// The connection each host has in the stack config of the current run. refresh and
// destroy work from the state, which records the connection of the last `up`: after a
// host's key is replaced (and the config updated) that one no longer connects. A host of
// the same identity (name) in the current config is reached the current way instead.
import * as fs from "node:fs";
import { DEFAULT_PORT, HostSpec, hostIdentity, validateHostSpec } from "../transport/host-spec";
import { inventoryConnections, labInventoryPath } from "../transport/inventory";

/** What a dynamic provider's configure() is given (pulumi.dynamic.Config). */
export interface ConfigSource {
  get(key: string): unknown;
}

/** Stack config `hosts` (a JSON list of connections, each with its uplink) as connections. */
function configuredConnections(value: unknown): HostSpec[] {
  const list = typeof value === "string" ? JSON.parse(value) : value;
  if (!Array.isArray(list)) return [];
  return list.map((h: Record<string, unknown>) => {
    const { uplink: _uplink, ...spec } = h;
    return spec as unknown as HostSpec;
  });
}

interface Current {
  spec: HostSpec;
  /**
   * From the lab inventory, found by a default path rather than named by the stack: it
   * stands in only for the same machine (address and port), so a lab that happens to sit
   * where the default path points never receives another machine's deletes.
   */
  sameMachineOnly: boolean;
}

let current = new Map<string, Current>();

/**
 * Reads the current connections. Never throws: a config this cannot read leaves the
 * state's connections in use, and the program itself reports the config mistake.
 */
export function configureHosts(config: ConfigSource): void {
  const next = new Map<string, Current>();
  try {
    const hosts = config.get("hosts");
    const inventory = config.get("hvnet:inventory");
    let specs: HostSpec[];
    let sameMachineOnly = false;
    if (hosts !== undefined && hosts !== "") specs = configuredConnections(hosts);
    else {
      const file = labInventoryPath(typeof inventory === "string" ? inventory : undefined);
      specs = fs.existsSync(file) ? inventoryConnections(file) : [];
      sameMachineOnly = typeof inventory !== "string" && !process.env.HVNET_LAB_INVENTORY;
    }
    for (const spec of specs) {
      // Only connections that validate: a broken one must not replace a working one.
      if (validateHostSpec(spec).length === 0) next.set(hostIdentity(spec), { spec, sameMachineOnly });
    }
  } catch {
    // see above: the state's connections stay in use
  }
  current = next;
}

/** The connection to use for a host recorded in the state: the current one of the same identity, if any. */
export function currentConnection(recorded: HostSpec): HostSpec {
  if (!recorded || typeof recorded !== "object" || typeof recorded.address !== "string") return recorded;
  const c = current.get(hostIdentity(recorded));
  if (!c) return recorded;
  if (c.sameMachineOnly && (c.spec.address !== recorded.address || (c.spec.port ?? DEFAULT_PORT) !== (recorded.port ?? DEFAULT_PORT))) return recorded;
  return c.spec;
}
