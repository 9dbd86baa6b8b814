// Host-key pinning: our fingerprints must be exactly what `ssh-keygen -l` prints (the
// independent witness), for every key type a server may present.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  algorithmsExcluding,
  algorithmsForKeyType,
  fingerprintOf,
  keyTypeOfBlob,
  parseHostKeyPin,
  pinnedHostVerifier,
  type PresentedKey,
} from "../../provider/transport/host-key";

let dir: string;
const keys: Record<string, { line: string; fingerprint: string }> = {};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "hvt-hostkey-"));
  for (const [t, bits] of [["ed25519", ""], ["ecdsa", "384"], ["rsa", "2048"]]) {
    const f = join(dir, t);
    execFileSync("ssh-keygen", ["-q", "-t", t, ...(bits ? ["-b", bits] : []), "-N", "", "-C", `host-${t}`, "-f", f]);
    const witness = execFileSync("ssh-keygen", ["-l", "-E", "sha256", "-f", `${f}.pub`], { encoding: "utf8" });
    keys[t] = { line: readFileSync(`${f}.pub`, "utf8").trim(), fingerprint: witness.split(" ")[1] };
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("a key line reduces to the fingerprint ssh-keygen prints, for ed25519, ecdsa and rsa", () => {
  expect(Object.keys(keys)).toHaveLength(3);
  for (const k of Object.values(keys)) {
    const pin = parseHostKeyPin(k.line);
    expect(pin.fingerprint).toBe(k.fingerprint);
    expect(pin.fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(pin.keyType).toBe(k.line.split(" ")[0]);
  }
  // known_hosts form: "<hosts> <type> <key>"
  expect(parseHostKeyPin(`[198.18.0.2]:22,hv1 ${keys.ed25519.line}`).fingerprint).toBe(keys.ed25519.fingerprint);
});

test("a fingerprint pin is accepted as printed, with or without base64 padding", () => {
  const fp = keys.rsa.fingerprint;
  expect(parseHostKeyPin(fp)).toEqual({ fingerprint: fp });
  expect(parseHostKeyPin(` ${fp}= `)).toEqual({ fingerprint: fp });
  expect(() => parseHostKeyPin(fp.slice(0, -2))).toThrow(/is not a SHA256 fingerprint/);
});

test("the verifier accepts only the pinned key and reports what was presented", () => {
  const blob = (line: string) => Buffer.from(line.split(" ")[1], "base64");
  expect(keyTypeOfBlob(blob(keys.ecdsa.line))).toBe("ecdsa-sha2-nistp384");
  expect(fingerprintOf(blob(keys.ed25519.line))).toBe(keys.ed25519.fingerprint);

  const seen: PresentedKey[] = [];
  const verify = pinnedHostVerifier(parseHostKeyPin(keys.ed25519.fingerprint), (k) => seen.push(k));
  expect(verify(blob(keys.ed25519.line))).toBe(true);
  expect(verify(blob(keys.rsa.line))).toBe(false);
  expect(seen).toEqual([
    { fingerprint: keys.ed25519.fingerprint, keyType: "ssh-ed25519" },
    { fingerprint: keys.rsa.fingerprint, keyType: "ssh-rsa" },
  ]);
});

test("host key algorithms: a key line offers its own family; a fingerprint retry skips families seen", () => {
  expect(algorithmsForKeyType("ssh-rsa")).toEqual(["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"]);
  expect(algorithmsForKeyType(parseHostKeyPin(keys.ecdsa.line).keyType)).toEqual(["ecdsa-sha2-nistp384"]);
  expect(algorithmsForKeyType(undefined)).toBeUndefined();
  expect(algorithmsExcluding(["ssh-ed25519", "ssh-rsa"])).toEqual(["ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521"]);
});
