// Kernel, lab and end-to-end tests need root and real kernel features. They must fail
// loudly when these are missing, never skip: a skipped test counted as passing hides a gap.
import { execFileSync } from "node:child_process";

export function requireRoot(): void {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) {
    throw new Error("this test needs root (it creates network namespaces and BPF objects); run it as root");
  }
}

export function requireCommand(name: string): void {
  try {
    execFileSync("sh", ["-c", 'command -v "$1"', "sh", name], { stdio: "ignore" });
  } catch {
    throw new Error(`this test needs the command '${name}'; run 'make setup' first`);
  }
}
