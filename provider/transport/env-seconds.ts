// Durations an operator tunes through the environment (HVNET_REQUEST_TIMEOUT,
// HVNET_KEEPALIVE_INTERVAL, HVNET_HELLO_TIMEOUT, HVNET_READ_AHEAD) are given in seconds.

/**
 * Reads an environment variable holding seconds (decimals allowed) as milliseconds.
 * `zeroTurnsOff`: 0 is allowed, for a feature that 0 turns off.
 */
export function envSeconds(name: string, fallbackMs: number, opts: { zeroTurnsOff?: boolean } = {}): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === "") return fallbackMs;
  const s = Number(raw);
  if (!Number.isFinite(s) || s < 0 || (s === 0 && !opts.zeroTurnsOff)) {
    const least = opts.zeroTurnsOff ? "0 (off) or more" : "greater than 0";
    throw new Error(`${name} must be a number of seconds ${least}, got ${JSON.stringify(raw)}`);
  }
  return Math.round(s * 1000);
}
