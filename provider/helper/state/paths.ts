import * as fs from "node:fs";

// Where the helper keeps its own records on a host. /run is a tmpfs: like RSS contexts,
// ntuple rules, pins and taps, these records vanish on reboot, so "missing" means drift.
export const STATE_ROOT = process.env.HVNET_STATE_DIR ?? "/run/hvnet";
export const LOCK_DIR = `${STATE_ROOT}/locks`;
export const REGISTRY_DIR = `${STATE_ROOT}/registry`;

/** Removes `dir` and its parents up to and including STATE_ROOT while they are empty. */
export function pruneEmptyDirs(dir: string): void {
  for (let d = dir; d === STATE_ROOT || d.startsWith(`${STATE_ROOT}/`); d = d.slice(0, d.lastIndexOf("/"))) {
    try {
      fs.rmdirSync(d);
    } catch {
      return; // not empty, or gone
    }
  }
}
