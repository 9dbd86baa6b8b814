// Which hypervisors a command talks to: a lab inventory (.lab/inventory.json, written by
// `make lab-up`), a stack's `hosts` config as a JSON file (`pulumi config get hosts`), or
// one host given by flags. Every host is checked like a resource's `host` input before
// any connection is made, and no private key ever appears in a message.
import * as fs from "node:fs";
import * as path from "node:path";
import type { LabInventory } from "../sdk/lab";
import { hostIdentity, validateHostSpec, type HostSpec } from "../provider/transport/host-spec";
import { UsageError } from "./errors";

export interface Target {
  name: string;
  spec: HostSpec;
}

export interface HostFlags {
  inventory?: string;
  hostsFile?: string;
  host?: string;
  port?: string;
  user?: string;
  identity?: string;
  hostKey?: string;
  insecureIgnoreHostKey?: boolean;
  name?: string;
  only?: string;
}

function readText(file: string, what: string): string {
  try {
    return file === "-" ? fs.readFileSync(0, "utf8") : fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new UsageError(`${what} ${file}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}`);
  }
}

function readJson(file: string, what: string): unknown {
  const text = readText(file, what);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${what} ${file} is not JSON: ${(err as Error).message}`);
  }
}

function checked(spec: HostSpec, where: string): Target {
  const problems = validateHostSpec(spec);
  if (problems.length) throw new UsageError(`${where}: ${problems.map((m) => m.replace(/^host\./, "")).join("; ")}`);
  return { name: hostIdentity(spec), spec };
}

function fromInventory(file: string): Target[] {
  const inv = readJson(file, "inventory") as Partial<LabInventory>;
  if (!inv || !Array.isArray(inv.hosts)) throw new UsageError(`inventory ${file} has no "hosts" list (expected the format of .lab/inventory.json)`);
  const dir = path.dirname(path.resolve(file));
  return inv.hosts.map((h, i) => {
    const where = `inventory ${file} hosts[${i}]${h?.name ? ` (${h.name})` : ""}`;
    if (typeof h?.privateKeyPath !== "string") throw new UsageError(`${where}: privateKeyPath is required`);
    const privateKey = readText(path.resolve(dir, h.privateKeyPath), `${where}: private key`);
    return checked({ name: h.name, address: h.address, port: h.port, user: h.user, hostKey: h.hostKey, privateKey }, where);
  });
}

/** A stack's `hosts` config: HostSpec objects, plus the `uplink` the examples read (ignored here). */
function fromHostsFile(file: string): Target[] {
  const list = readJson(file, "hosts file");
  if (!Array.isArray(list) || list.length === 0) throw new UsageError(`hosts file ${file} must be a non-empty JSON list of hosts (the stack's config "hosts")`);
  return list.map((h, i) => {
    const where = `hosts file ${file} [${i}]`;
    if (!h || typeof h !== "object" || Array.isArray(h)) throw new UsageError(`${where} must be an object`);
    const { uplink: _uplink, privateKeyPath, ...spec } = h as HostSpec & { uplink?: unknown; privateKeyPath?: string };
    if (privateKeyPath !== undefined && spec.privateKey === undefined) {
      spec.privateKey = readText(path.resolve(path.dirname(path.resolve(file)), privateKeyPath), `${where}: private key`);
    }
    return checked(spec, `${where}${spec.name ?? spec.address ? ` (${spec.name ?? spec.address})` : ""}`);
  });
}

function fromFlags(f: HostFlags): Target {
  const spec: HostSpec = { address: f.host! };
  if (f.port !== undefined) {
    const port = Number(f.port);
    if (!/^\d+$/.test(f.port) || port < 1 || port > 65535) throw new UsageError(`--port must be 1-65535, got ${JSON.stringify(f.port)}`);
    spec.port = port;
  }
  if (f.user !== undefined) spec.user = f.user;
  if (f.name !== undefined) spec.name = f.name;
  if (f.hostKey !== undefined) spec.hostKey = f.hostKey;
  if (f.insecureIgnoreHostKey) spec.insecureIgnoreHostKey = true;
  if (f.identity !== undefined) spec.privateKey = readText(f.identity, "--identity");
  else if (process.env.SSH_AUTH_SOCK) spec.agentSocket = process.env.SSH_AUTH_SOCK;
  if (spec.hostKey === undefined && !spec.insecureIgnoreHostKey) {
    throw new UsageError(`--host ${f.host}: --host-key is required (SHA256:… or a public key line; see ssh-keyscan), or say --insecure-ignore-host-key`);
  }
  if (spec.privateKey === undefined && spec.agentSocket === undefined) {
    throw new UsageError(`--host ${f.host}: give --identity FILE (a private key) or run an ssh-agent (SSH_AUTH_SOCK)`);
  }
  return checked(spec, `--host ${f.host}`);
}

/** The default lab inventory: $HVNET_LAB_INVENTORY, else .lab/inventory.json here. */
function defaultInventory(): string | undefined {
  const candidate = process.env.HVNET_LAB_INVENTORY ?? ".lab/inventory.json";
  return fs.existsSync(candidate) ? candidate : undefined;
}

export function resolveTargets(f: HostFlags): Target[] {
  const given = [f.inventory && "--inventory", f.hostsFile && "--hosts-file", f.host && "--host"].filter(Boolean);
  if (given.length > 1) throw new UsageError(`give one of --inventory, --hosts-file or --host, not ${given.join(" and ")}`);
  const connectionFlags = ["port", "user", "identity", "hostKey", "name"].filter((k) => f[k as keyof HostFlags] !== undefined);
  if (!f.host && (connectionFlags.length || f.insecureIgnoreHostKey)) {
    throw new UsageError(`--${(connectionFlags[0] ?? "insecureIgnoreHostKey").replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} only goes with --host`);
  }
  let targets: Target[];
  if (f.host) targets = [fromFlags(f)];
  else if (f.hostsFile) targets = fromHostsFile(f.hostsFile);
  else {
    const inv = f.inventory ?? defaultInventory();
    if (!inv) throw new UsageError("no hosts: give --inventory FILE (a lab's inventory.json), --hosts-file FILE (a stack's config hosts) or --host ADDRESS --host-key KEY");
    targets = fromInventory(inv);
  }
  const seen = new Set<string>();
  for (const t of targets) {
    if (seen.has(t.name)) throw new UsageError(`host ${t.name} is listed twice`);
    seen.add(t.name);
  }
  if (f.only !== undefined) {
    const want = f.only.split(",").map((s) => s.trim()).filter(Boolean);
    const unknown = want.filter((w) => !seen.has(w));
    if (unknown.length) throw new UsageError(`--only ${unknown.join(",")}: no such host (known: ${[...seen].join(", ")})`);
    targets = targets.filter((t) => want.includes(t.name));
  }
  return targets;
}
