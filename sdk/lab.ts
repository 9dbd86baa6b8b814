// Reading the lab inventory (`make lab-up` writes .lab/inventory.json) into host
// connections, so examples target the lab by default and real hosts by stack config.
import * as fs from "node:fs";
import * as pulumi from "@pulumi/pulumi";
import { HostArgs } from "./generated";
import type { InventoryHost } from "../provider/transport/inventory";

export interface LabInventoryHost extends InventoryHost {
  netns: string;
  uplink: string;
}

export interface LabInventory {
  hosts: LabInventoryHost[];
  knownHosts: string;
}

export function readLabInventory(path: string): LabInventory {
  let text: string;
  try {
    text = fs.readFileSync(path, "utf8");
  } catch {
    throw new Error(`no lab inventory at ${path}: run 'make lab-up' first, or configure real hosts`);
  }
  return JSON.parse(text) as LabInventory;
}

/** The lab's hosts as connections; the private key is read here and kept secret. */
export function labHosts(path: string): Array<{ host: HostArgs; uplink: string; name: string }> {
  return readLabInventory(path).hosts.map((h) => ({
    name: h.name,
    uplink: h.uplink,
    host: {
      name: h.name,
      address: h.address,
      port: h.port,
      user: h.user,
      hostKey: h.hostKey,
      privateKey: pulumi.secret(fs.readFileSync(h.privateKeyPath, "utf8")),
    },
  }));
}
