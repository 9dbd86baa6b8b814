// Which hypervisors a stack targets: the hosts in stack config `hosts` (a secret JSON
// list), or else the lab that `make lab-up` started. The same program serves both.
import * as fs from "node:fs";
import * as pulumi from "@pulumi/pulumi";
import { Host, HostArgs } from "./generated";
import { LabInventory, labHosts, readLabInventory } from "./lab";
import { labInventoryPath } from "../provider/transport/inventory";

export interface StackTarget {
  name: string;
  /** The NIC facing the physical network. */
  uplink: string;
  /** For resources: the private key stays a secret in the state. */
  host: HostArgs;
  /** The same connection as plain values, for checks the program makes itself. */
  spec: Host;
}

/** A host of stack config `hosts`: a connection plus the host's uplink NIC. */
interface ConfiguredHost extends Host {
  uplink: string;
}

/**
 * The lab inventory: config hvnet:inventory, else $HVNET_LAB_INVENTORY, else the .lab of
 * the repository an example lives in (relative to the project directory Pulumi runs in).
 * The provider finds the current connections for refresh and destroy the same way.
 */
function inventoryPath(): string {
  return labInventoryPath(new pulumi.Config("hvnet").get("inventory"));
}

/** The connection with every private key (its own, its jump host's) a secret. */
export function secretHost(spec: Host): HostArgs {
  const host: HostArgs = { ...spec };
  if (spec.privateKey !== undefined) host.privateKey = pulumi.secret(spec.privateKey);
  if (spec.jumpHost !== undefined) host.jumpHost = secretHost(spec.jumpHost);
  return host;
}

/**
 * A config mistake: Pulumi prints a RunError's message alone. Its stack is cut to that
 * message because Node 20 takes ~15 s to format Pulumi's source-mapped frames.
 */
export function configError(message: string): pulumi.RunError {
  const err = new pulumi.RunError(message);
  err.stack = message;
  return err;
}

// Config is known in preview too, so this resolves in every run.
function valueOf<T>(o: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => o.apply((v) => resolve(v)));
}

function fromConfig(hosts: ConfiguredHost[]): StackTarget[] {
  if (!Array.isArray(hosts) || hosts.length === 0) throw configError("config hosts must be a non-empty JSON list of hosts");
  return hosts.map((h, i) => {
    if (!h || typeof h !== "object") throw configError(`config hosts[${i}] must be an object`);
    if (typeof h.uplink !== "string" || h.uplink === "") throw configError(`config hosts[${i}].uplink is required (the host's NIC facing the network)`);
    const { uplink, ...spec } = h;
    const name = spec.name ?? spec.address;
    return { name, uplink, host: secretHost(spec), spec };
  });
}

function fromLab(inventory: string): StackTarget[] {
  let lab: LabInventory;
  try {
    lab = readLabInventory(inventory);
  } catch (err) {
    throw configError((err as Error).message);
  }
  const plain = new Map(lab.hosts.map((h) => [h.name, h]));
  return labHosts(inventory).map(({ name, uplink, host }) => {
    const h = plain.get(name)!;
    const spec: Host = {
      name, address: h.address, port: h.port, user: h.user, hostKey: h.hostKey,
      privateKey: fs.readFileSync(h.privateKeyPath, "utf8"),
    };
    return { name, uplink, host, spec };
  });
}

/** The stack's hypervisors, from config `hosts` or the lab inventory. */
export async function stackTargets(): Promise<StackTarget[]> {
  const configured = new pulumi.Config().getSecretObject<ConfiguredHost[]>("hosts");
  return configured ? fromConfig(await valueOf(configured)) : fromLab(inventoryPath());
}
