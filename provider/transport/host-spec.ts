// The `host` input every resource takes (DESIGN.md, "Resources"), and its validation.
// Validation does no I/O: it runs in `check`, before any connection is attempted, and
// every message names the field and the offending value (never the private key).
import { isIP } from "node:net";
import { utils as sshUtils } from "ssh2";
import { controlCharProblem } from "../common/validate/formats";
import { parseHostKeyPin } from "./host-key";
import { Host, HOST_FIELDS } from "../common/schema-facts";

/** schema.json's Host type: how to reach one hypervisor (its fields are documented there). */
export type HostSpec = Host;

export const DEFAULT_PORT = 22;
export const DEFAULT_USER = "root";

const KNOWN_FIELDS = new Set(HOST_FIELDS);

// RFC 1123 host names: dot-separated labels of letters, digits and inner hyphens.
const DNS_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
// Portable user names (POSIX plus the '.'/'-' Linux distributions accept).
const USER_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;
// Resource ids are "<host>/<kind>/<object>": the identity must not contain '/'.
const HOST_NAME = /^[A-Za-z0-9._:@-]{1,253}$/;

export function hostIdentity(spec: HostSpec): string {
  return spec.name ?? spec.address;
}

/**
 * Every detail that decides which machine a connection reaches (and which key it must
 * present): two specs with equal keys reach the same sshd. Credentials (privateKey,
 * agentSocket) are left out: they change who logs in, not where, and are secret.
 */
export function connectionKey(spec: HostSpec): string {
  return JSON.stringify(connectionDetails(spec));
}

function connectionDetails(spec: HostSpec): unknown[] {
  return [
    hostIdentity(spec),
    spec.address,
    spec.port ?? DEFAULT_PORT,
    spec.user ?? DEFAULT_USER,
    spec.hostKey ?? null,
    spec.insecureIgnoreHostKey === true,
    spec.jumpHost ? connectionDetails(spec.jumpHost) : null,
  ];
}

/** "user@address:port" (via the jump host's), for messages: never key material. */
export function describeConnection(spec: HostSpec): string {
  const here = `${spec.user ?? DEFAULT_USER}@${spec.address}:${spec.port ?? DEFAULT_PORT}`;
  return spec.jumpHost ? `${here} via ${describeConnection(spec.jumpHost)}` : here;
}

export function isDnsName(s: string): boolean {
  const name = s.endsWith(".") ? s.slice(0, -1) : s;
  if (name.length === 0 || name.length > 253) return false;
  const labels = name.split(".");
  // A name of all-numeric labels ("1.2.3") is a mistyped IP, not a host name.
  if (labels.every((l) => /^[0-9]+$/.test(l))) return false;
  return labels.every((l) => DNS_LABEL.test(l));
}

const show = (v: unknown): string => (typeof v === "string" ? JSON.stringify(v) : String(v));

/** Returns one message per problem; an empty list means the spec is usable. */
export function validateHostSpec(spec: unknown, field = "host"): string[] {
  if (spec === null || typeof spec !== "object" || Array.isArray(spec)) {
    return [`${field} must be an object with at least "address" and "hostKey", got ${spec === null ? "null" : typeof spec}`];
  }
  const s = spec as Record<string, unknown>;
  const errors: string[] = [];
  const f = (name: string) => `${field}.${name}`;

  for (const key of Object.keys(s)) {
    if (!KNOWN_FIELDS.has(key) && s[key] !== undefined) errors.push(`${f(key)} is not a known field (known: ${[...KNOWN_FIELDS].join(", ")})`);
  }

  if (s.address === undefined || s.address === "") errors.push(`${f("address")} is required`);
  else if (typeof s.address !== "string") errors.push(`${f("address")} must be a string, got ${typeof s.address}`);
  else if (isIP(s.address) === 0 && !isDnsName(s.address)) errors.push(`${f("address")} ${show(s.address)} is not an IP address or DNS name`);

  if (s.port !== undefined && (typeof s.port !== "number" || !Number.isInteger(s.port) || s.port < 1 || s.port > 65535)) {
    errors.push(`${f("port")} must be 1-65535, got ${show(s.port)}`);
  }

  if (s.user !== undefined && (typeof s.user !== "string" || !USER_NAME.test(s.user))) {
    errors.push(`${f("user")} ${show(s.user)} is not a valid user name`);
  }

  if (s.name !== undefined && (typeof s.name !== "string" || !HOST_NAME.test(s.name))) {
    errors.push(`${f("name")} ${show(s.name)} must be 1-253 characters of letters, digits and . _ : @ - (no "/": it is part of resource ids)`);
  }

  if (s.privateKey !== undefined) {
    if (typeof s.privateKey !== "string" || s.privateKey.trim() === "") {
      errors.push(`${f("privateKey")} must be the text of a private key`);
    } else {
      // parseKey only parses text; the value itself never appears in a message (secret).
      const parsed = sshUtils.parseKey(s.privateKey);
      if (parsed instanceof Error) errors.push(`${f("privateKey")} is not a usable private key: ${parsed.message}`);
    }
  }
  if (s.agentSocket !== undefined && (typeof s.agentSocket !== "string" || s.agentSocket === "")) {
    errors.push(`${f("agentSocket")} must be the path of an ssh-agent socket, got ${show(s.agentSocket)}`);
  } else if (typeof s.agentSocket === "string" && controlCharProblem(s.agentSocket)) {
    errors.push(`${f("agentSocket")} ${show(s.agentSocket)} ${controlCharProblem(s.agentSocket)}`);
  }
  if (s.privateKey === undefined && s.agentSocket === undefined) {
    errors.push(`${f("privateKey")} or ${f("agentSocket")} is required`);
  }

  if (s.insecureIgnoreHostKey !== undefined && typeof s.insecureIgnoreHostKey !== "boolean") {
    errors.push(`${f("insecureIgnoreHostKey")} must be true or false, got ${show(s.insecureIgnoreHostKey)}`);
  }
  if (s.hostKey === undefined || s.hostKey === "") {
    if (s.insecureIgnoreHostKey !== true) errors.push(`${f("hostKey")} is required (or set ${f("insecureIgnoreHostKey")}: true)`);
  } else if (typeof s.hostKey !== "string") {
    errors.push(`${f("hostKey")} must be a string, got ${typeof s.hostKey}`);
  } else {
    if (s.insecureIgnoreHostKey === true) {
      errors.push(`${f("hostKey")} and ${f("insecureIgnoreHostKey")}: true contradict each other; set one`);
    }
    try {
      parseHostKeyPin(s.hostKey);
    } catch (e) {
      errors.push(`${f("hostKey")} ${(e as Error).message}`);
    }
  }

  if (s.jumpHost !== undefined) errors.push(...validateHostSpec(s.jumpHost, f("jumpHost")));
  return errors;
}

/** Fills the defaults; call only on a spec that validated. */
export function withDefaults(spec: HostSpec): Required<Pick<HostSpec, "address" | "port" | "user">> & HostSpec {
  return { ...spec, port: spec.port ?? DEFAULT_PORT, user: spec.user ?? DEFAULT_USER };
}
