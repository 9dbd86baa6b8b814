// The SSH session a helper runs in. After a silent drop sshd never learns that its
// client is gone (ClientAliveInterval is 0 unless the host's sshd_config sets it, and TCP
// keepalive takes hours), so the session process would stay on the host after the
// helper left. The helper, which knows the provider is gone, ends it.
import * as fs from "node:fs";

interface Proc {
  comm: string;
  ppid: number;
}

function readProc(pid: number): Proc | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    const open = stat.indexOf("(");
    const close = stat.lastIndexOf(")");
    return { comm: stat.slice(open + 1, close), ppid: Number(stat.slice(close + 2).split(" ")[1]) };
  } catch {
    return undefined;
  }
}

function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0+$/, "").replace(/\0/g, " ");
  } catch {
    return "";
  }
}

// The per-connection process of an exec session without a tty: "sshd: root@notty"
// (OpenSSH < 9.8) or "sshd-session: root@notty". Never the listener, never a tty session.
const SESSION_TITLE = /^sshd(-session)?: [^ ]+@notty$/;

/**
 * The pid of the sshd process serving this helper's connection: the nearest ancestor
 * (through sudo and a shell, at most `depth` steps up) that is an sshd session without a
 * tty. Undefined when the helper was not started over SSH.
 */
export function sshSessionPid(from = process.ppid, depth = 4): number | undefined {
  let pid = from;
  for (let i = 0; i < depth && pid > 1; i++) {
    const p = readProc(pid);
    if (!p) return undefined;
    if (p.comm === "sshd" || p.comm === "sshd-session") return SESSION_TITLE.test(cmdline(pid)) ? pid : undefined;
    pid = p.ppid;
  }
  return undefined;
}

/** Ends the SSH session `pid` (from sshSessionPid: its connection is dead, see above). */
export function endSshSession(pid: number): void {
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    // gone already
  }
}
