// Formats of the names and addresses hvnet accepts. Each check returns a phrase that
// completes "<value> ..." or undefined when the value is fine.
import { isIP } from "node:net";

// C0 controls and DEL: a newline in a path splits a log line or a record on the host, and
// no device, pin or program path an operator means contains one.
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Names the first control character of s (as U+00XX, since it does not print). */
export function controlCharProblem(s: string): string | undefined {
  const m = CONTROL.exec(s);
  if (!m) return undefined;
  return `contains the control character U+${m[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}`;
}

// Linux allows more, but these are the names an operator can type safely anywhere
// (IFNAMSIZ is 16 including the NUL: 15 bytes).
const IFNAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/;

export function ifnameProblem(s: string): string | undefined {
  if (Buffer.byteLength(s) > 15) return `is ${Buffer.byteLength(s)} bytes long; interface names are at most 15 bytes`;
  if (!IFNAME.test(s)) return "is not a valid interface name (letters, digits, '_', '-', '.'; not starting with '-' or '.')";
  if (s === "." || s === "..") return "is not a valid interface name";
  return undefined;
}

const MAC = /^([0-9a-fA-F]{2})([:-][0-9a-fA-F]{2}){5}$/;

export function macProblem(s: string): string | undefined {
  if (!MAC.test(s)) return "is not a MAC address (six hex bytes separated by ':')";
  const first = parseInt(s.slice(0, 2), 16);
  if (first & 1) return "is a multicast MAC address; a device needs a unicast one";
  if (/^(00[:-]){5}00$/.test(s)) return "is the all-zero MAC address";
  return undefined;
}

export function normalizeMac(s: string): string {
  return s.toLowerCase().replace(/-/g, ":");
}

const NETNS_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;
const NETNS_PROC = /^\/proc\/[1-9][0-9]{0,9}\/ns\/net$/;

/** A named netns (as `ip netns` makes under /run/netns) or a /proc/<pid>/ns/net path. */
export function netnsProblem(s: string): string | undefined {
  if (NETNS_PROC.test(s)) return undefined;
  if (s.startsWith("/")) return "is not a /proc/<pid>/ns/net path";
  if (!NETNS_NAME.test(s) || s === "." || s === "..") return "is not a valid network namespace name";
  return undefined;
}

export const BPFFS_ROOT = "/sys/fs/bpf";

// One or more components of [A-Za-z0-9_.-], none of them "." or "..". One regex rather
// than split + a test per component: every entry of a 10,000-entry FDB batch is checked.
const BPFFS_PLAIN = /^\/sys\/fs\/bpf(?:\/(?!\.\.?(?:\/|$))[A-Za-z0-9_.-]+)+$/;

export function bpffsPathProblem(s: string): string | undefined {
  if (!s.startsWith(`${BPFFS_ROOT}/`)) return `is not under ${BPFFS_ROOT}/`;
  if (!BPFFS_PLAIN.test(s)) return "is not a plain path (no '..', empty or unusual components)";
  return undefined;
}

export function ipProblem(s: string, opts: { family?: 4 | 6; prefix?: boolean } = {}): string | undefined {
  let addr = s;
  if (opts.prefix && s.includes("/")) {
    const [a, len, ...rest] = s.split("/");
    const max = isIP(a) === 6 ? 128 : 32;
    if (rest.length || !/^[0-9]{1,3}$/.test(len) || Number(len) > max) return "has an invalid prefix length";
    addr = a;
  }
  const fam = isIP(addr);
  if (fam === 0) return "is not an IP address";
  if (opts.family && fam !== opts.family) return `is not an IPv${opts.family} address`;
  return undefined;
}

/** One spelling per address, so diffs do not flap on "::1" vs "0:0::1". */
export function canonicalIp(s: string): string {
  const [addr, len] = s.split("/");
  let out = addr;
  if (isIP(addr) === 6) {
    out = new URL(`http://[${addr}]`).hostname.slice(1, -1);
  } else if (isIP(addr) === 4) {
    out = addr.split(".").map((o) => String(Number(o))).join(".");
  }
  return len === undefined ? out : `${out}/${len}`;
}
