// Host-key pinning. The pin is either an OpenSSH fingerprint ("SHA256:" + unpadded
// base64, as `ssh-keygen -lf` prints) or a public key line ("ssh-ed25519 AAAA… comment",
// optionally with a known_hosts host list in front). Both reduce to the fingerprint of
// the key blob the server presents during key exchange.
import { createHash } from "node:crypto";

export interface HostKeyPin {
  /** "SHA256:<base64 without padding>" */
  fingerprint: string;
  /** Known when the pin is a key line: lets the client ask for that key type only. */
  keyType?: string;
}

/** Host key algorithm families, in the order we offer them (ssh2's own default order). */
const FAMILIES: Record<string, string[]> = {
  "ssh-ed25519": ["ssh-ed25519"],
  "ecdsa-sha2-nistp256": ["ecdsa-sha2-nistp256"],
  "ecdsa-sha2-nistp384": ["ecdsa-sha2-nistp384"],
  "ecdsa-sha2-nistp521": ["ecdsa-sha2-nistp521"],
  // An RSA key is presented under any of the three signature algorithms.
  "ssh-rsa": ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"],
};

export const HOST_KEY_TYPES = Object.keys(FAMILIES);

/** OpenSSH's SHA256 fingerprint of a wire-format public key blob. */
export function fingerprintOf(keyBlob: Buffer): string {
  return "SHA256:" + createHash("sha256").update(keyBlob).digest("base64").replace(/=+$/, "");
}

/** The key type string at the start of a wire-format key blob (RFC 4253 §6.6). */
export function keyTypeOfBlob(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const len = blob.readUInt32BE(0);
  if (len === 0 || len > 64 || 4 + len > blob.length) return undefined;
  return blob.subarray(4, 4 + len).toString("latin1");
}

/** Parses a pin; throws an Error whose message describes what is wrong (without the field name). */
export function parseHostKeyPin(text: string): HostKeyPin {
  const s = text.trim();
  if (s.startsWith("SHA256:")) {
    const b64 = s.slice("SHA256:".length).replace(/=+$/, "");
    if (!/^[A-Za-z0-9+/]{43}$/.test(b64) || Buffer.from(b64, "base64").length !== 32) {
      throw new Error(`${JSON.stringify(text)} is not a SHA256 fingerprint (expected "SHA256:" and 43 base64 characters)`);
    }
    return { fingerprint: `SHA256:${b64}` };
  }
  if (/^(MD5:)?([0-9a-f]{2}:){15}[0-9a-f]{2}$/i.test(s)) {
    throw new Error("MD5 fingerprints are not accepted; use the SHA256 fingerprint (`ssh-keygen -lf <key>`) or the public key line");
  }
  const tokens = s.split(/\s+/);
  // "<type> <base64> [comment]" or a known_hosts line "<hosts> <type> <base64> [comment]".
  const at = tokens[0] in FAMILIES ? 0 : tokens.length > 1 && tokens[1] in FAMILIES ? 1 : -1;
  if (at < 0 || tokens.length < at + 2) {
    throw new Error(
      `${JSON.stringify(text.length > 80 ? text.slice(0, 77) + "..." : text)} is neither a SHA256 fingerprint ` +
        `nor a public key line of a supported type (${HOST_KEY_TYPES.join(", ")})`,
    );
  }
  const keyType = tokens[at];
  const blob = Buffer.from(tokens[at + 1], "base64");
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(tokens[at + 1]) || keyTypeOfBlob(blob) !== keyType) {
    throw new Error(`the key in the ${keyType} line does not decode to a ${keyType} key`);
  }
  return { fingerprint: fingerprintOf(blob), keyType };
}

/** Server host key algorithms to offer when the pin's type is known; undefined = all. */
export function algorithmsForKeyType(keyType: string | undefined): string[] | undefined {
  return keyType ? FAMILIES[keyType] : undefined;
}

/** All host key algorithms except those of the families already seen. */
export function algorithmsExcluding(seenKeyTypes: Iterable<string>): string[] {
  const seen = new Set(seenKeyTypes);
  return HOST_KEY_TYPES.filter((t) => !seen.has(t)).flatMap((t) => FAMILIES[t]);
}

export interface PresentedKey {
  fingerprint: string;
  keyType: string;
}

/**
 * An ssh2 hostVerifier (called with the raw key blob when hostHash is unset) that accepts
 * only the pinned key, and records what was presented so a refusal can name both keys.
 */
export function pinnedHostVerifier(pin: HostKeyPin, onPresented: (k: PresentedKey) => void): (key: Buffer) => boolean {
  return (key: Buffer) => {
    const presented = { fingerprint: fingerprintOf(key), keyType: keyTypeOfBlob(key) ?? "unknown" };
    onPresented(presented);
    return presented.fingerprint === pin.fingerprint;
  };
}
