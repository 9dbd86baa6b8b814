// Durations an operator tunes through the environment (HVNET_REQUEST_TIMEOUT,
// HVNET_KEEPALIVE_INTERVAL, HVNET_HELLO_TIMEOUT) are given in seconds.

/** Reads an environment variable holding seconds (decimals allowed) as milliseconds. */
export function envSeconds(name: string, fallbackMs: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === "") return fallbackMs;
  const s = Number(raw);
  if (!Number.isFinite(s) || s <= 0) {
    throw new Error(`${name} must be a number of seconds greater than 0, got ${JSON.stringify(raw)}`);
  }
  return Math.round(s * 1000);
}
