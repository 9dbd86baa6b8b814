// Whether a process still runs, as a witness of what a test's lab or helper left behind.
import { readFileSync } from "node:fs";

/** A zombie has exited (its namespaces and sockets are released); only its parent's wait is missing. */
export function processRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}
