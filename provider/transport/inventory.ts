// The lab inventory file (`make lab-up` writes it): where it is and the connections it
// lists. The SDK (in the program) and the runtime (in the provider) both read it.
import * as fs from "node:fs";
import * as path from "node:path";
import type { HostSpec } from "./host-spec";

/** One place for the rule the SDK (in the program) and the runtime (in the provider) share. */
export function labInventoryPath(configured: string | undefined, cwd = process.cwd()): string {
  return path.resolve(cwd, configured ?? process.env.HVNET_LAB_INVENTORY ?? "../../.lab/inventory.json");
}

/** A lab inventory host's connection part (the SDK adds netns and uplink). */
export interface InventoryHost {
  name: string;
  address: string;
  port: number;
  user: string;
  privateKeyPath: string;
  hostKey: string;
}

/** The lab inventory's hosts as connections (private keys read from their files). */
export function inventoryConnections(file: string): HostSpec[] {
  const inventory = JSON.parse(fs.readFileSync(file, "utf8")) as { hosts: InventoryHost[] };
  return inventory.hosts.map((h) => ({
    name: h.name, address: h.address, port: h.port, user: h.user, hostKey: h.hostKey,
    privateKey: fs.readFileSync(h.privateKeyPath, "utf8"),
  }));
}
