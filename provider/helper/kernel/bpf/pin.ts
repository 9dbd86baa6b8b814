// bpffs: where pins live. A pin keeps a map, program or link alive after the helper exits,
// so the helper makes sure the filesystem is there, creates directories only inside it,
// and treats a missing pin as "gone" (pins vanish on reboot), not as a failure.
import { existsSync, mkdirSync, rmdirSync, statfsSync, unlinkSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import * as libc from "../internal/libc";
import { KernelError } from "../errors";
import { errnoNumber } from "../internal/errno";
import { libbpf } from "./internal/libbpf";
import { checkLibbpf } from "./internal/fd";

/** BPF_FS_MAGIC (include/uapi/linux/magic.h). */
export const BPF_FS_MAGIC = 0xcafe4a11;
export const DEFAULT_BPFFS = "/sys/fs/bpf";

/** True when `path` itself is on a bpffs (statfs f_type). */
export function isBpffs(path: string): boolean {
  try {
    return statfsSync(path).type === BPF_FS_MAGIC;
  } catch {
    return false;
  }
}

/**
 * True when `path` is, or would be created, inside a bpffs: its nearest existing ancestor
 * is on bpffs. A path that does not exist yet is judged by where it would be created.
 */
export function isUnderBpffs(path: string): boolean {
  let p = resolve(path);
  while (!existsSync(p)) {
    const up = dirname(p);
    if (up === p) return false;
    p = up;
  }
  return isBpffs(p);
}

/** Mounts bpffs on `root` unless one is already there (creating the directory, 0700, if missing). */
export function ensureBpffs(root = DEFAULT_BPFFS): void {
  if (isBpffs(root)) return;
  mkdirSync(root, { recursive: true, mode: 0o700 });
  libc.mount("bpf", root, "bpf");
  if (!isBpffs(root)) {
    throw new KernelError("mount", errnoNumber("ENODEV"), "mounted, but statfs does not report bpffs", root);
  }
}

function requireUnderBpffs(path: string): string {
  if (!isAbsolute(path)) throw new Error(`BPF pin paths must be absolute, got ${JSON.stringify(path)}`);
  if (!isUnderBpffs(path)) {
    throw new KernelError("pin", errnoNumber("EPERM"), "not inside a bpffs mount (mount one with ensureBpffs)", path);
  }
  return resolve(path);
}

/** mkdir -p inside bpffs; refuses to create directories anywhere else. */
export function mkdirpBpffs(dir: string): void {
  mkdirSync(requireUnderBpffs(dir), { recursive: true, mode: 0o700 });
}

/**
 * Removes `dir` and its parents while they are empty, up to (not including) `root`: what
 * a removed object leaves of its pin path must go too (destroy leaves the host as it was).
 */
export function pruneEmptyBpffsDirs(dir: string, root = DEFAULT_BPFFS): void {
  for (let d = dir; d.startsWith(`${root}/`); d = dirname(d)) {
    try {
      rmdirSync(d);
    } catch {
      return; // not empty (someone else's pins stay), or gone
    }
  }
}

/** The contract's name for mkdirpBpffs. */
export const mkdirp = mkdirpBpffs;

/** Pins fd at path, creating parent directories (inside bpffs only). EEXIST if taken. */
export function pinFd(fd: number, path: string): void {
  const target = requireUnderBpffs(path);
  mkdirpBpffs(dirname(target));
  checkLibbpf(libbpf.obj_pin(fd, target), "bpf_obj_pin", target);
}

/** Opens a pinned object (BPF_OBJ_GET). ENOENT when the pin is gone. */
export function openPin(path: string): number {
  return checkLibbpf(libbpf.obj_get(path), "bpf_obj_get", path);
}

/**
 * Removes a pin (unlink; the object lives on while other fds or pins hold it).
 * Returns false when there was nothing to remove.
 */
export function removePin(path: string): boolean {
  const target = requireUnderBpffs(path);
  try {
    unlinkSync(target);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw e;
  }
}
