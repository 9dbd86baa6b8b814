// libbpf's log, captured per call so that a failure carries what libbpf and the verifier
// said. libbpf prints through one process-wide callback (libbpf_set_print); ours formats
// each message with vasprintf (the va_list can be consumed once, and a verifier log can be
// megabytes, so no fixed buffer) and appends it to the innermost active capture. Outside a
// capture messages are dropped: the helper's stdout is its RPC channel and must stay clean.
import koffi from "koffi";
import { KernelError } from "../../errors";
import { libbpf, PrintFn } from "./libbpf";

const libc = koffi.load("libc.so.6");
const vasprintf = libc.func("int vasprintf(_Out_ void **strp, void *fmt, void *ap)");
const free = libc.func("void free(void *ptr)");

/** enum libbpf_print_level (libbpf.h:90): LIBBPF_WARN 0, LIBBPF_INFO 1, LIBBPF_DEBUG 2. */
const LIBBPF_INFO = 1;

interface Capture {
  maxLevel: number;
  parts: string[];
}
const captures: Capture[] = [];

function onPrint(level: number, fmt: unknown, ap: unknown): number {
  const capture = captures[captures.length - 1];
  if (!capture || level > capture.maxLevel) return 0;
  const out: unknown[] = [null];
  const n = vasprintf(out, fmt, ap) as number;
  if (n < 0 || out[0] === null) return 0;
  try {
    capture.parts.push(n === 0 ? "" : Buffer.from(koffi.view(out[0], n)).toString("utf8"));
  } finally {
    free(out[0]);
  }
  return 0;
}

// Registered for the life of the process: libbpf keeps the pointer and may call it any time.
const registered = koffi.register(onPrint, koffi.pointer(PrintFn));
libbpf.set_print(registered);

/**
 * Runs fn while collecting libbpf's messages up to `maxLevel` (default INFO: DEBUG is a
 * line per relocation). Returns fn's result and the raw text.
 */
export function withLibbpfLog<T>(fn: () => T, maxLevel = LIBBPF_INFO): { result: T; log: string } {
  const capture: Capture = { maxLevel, parts: [] };
  captures.push(capture);
  try {
    const result = fn();
    return { result, log: capture.parts.join("") };
  } finally {
    captures.splice(captures.lastIndexOf(capture), 1);
  }
}

const BEGIN = "-- BEGIN PROG LOAD LOG --";
const END = "-- END PROG LOAD LOG --";

/**
 * Cuts a log to the part an operator needs. A verifier log ends with the rejected
 * instruction and the reason, so the tail of each program's load log is kept (its last
 * `verifierLines` lines); libbpf's own lines around it are kept whole; the result is
 * capped at `maxChars` from the end.
 */
export function trimLibbpfLog(log: string, verifierLines = 20, maxChars = 4000): string {
  const out: string[] = [];
  let block: string[] | undefined;
  for (const raw of log.split("\n")) {
    const line = raw.trimEnd();
    if (block === undefined) {
      if (line.includes(BEGIN)) block = [];
      if (line !== "") out.push(line);
      continue;
    }
    if (line.includes(END)) {
      if (block.length > verifierLines) out.push(`... (${block.length - verifierLines} earlier verifier lines)`);
      out.push(...block.slice(-verifierLines), line);
      block = undefined;
    } else if (line !== "") {
      block.push(line);
    }
  }
  if (block !== undefined) {
    // A log cut before its END marker still ends where the verifier stopped.
    if (block.length > verifierLines) out.push(`... (${block.length - verifierLines} earlier verifier lines)`);
    out.push(...block.slice(-verifierLines));
  }
  const text = out.join("\n");
  if (text.length <= maxChars) return text;
  const tail = text.slice(text.length - maxChars);
  const firstBreak = tail.indexOf("\n");
  return "..." + (firstBreak >= 0 ? tail.slice(firstBreak) : tail);
}

/**
 * The error for a failed libbpf call whose log explains it (a verifier rejection): the
 * message carries the trimmed tail once, `log` the whole text for whoever needs more.
 */
export function libbpfError(operation: string, errno: number, log: string, context?: string): KernelError {
  return new KernelError(operation, errno, trimLibbpfLog(log) || undefined, context, log || undefined);
}
