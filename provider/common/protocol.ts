// The helper's wire protocol: newline-delimited JSON over stdin/stdout.
// Request {"id","op","args","deadlineMs"?,"deadlineAt"?}; response {"id","ok":true,"result"} or
// {"id","ok":false,"error":{"code","message","errno"?,"kernelMessage"?,"log"?,"problems"?}}.
// `message` is complete (it already says the kernel's text); kernelMessage repeats that
// text as a field and `log` is the whole libbpf/verifier log behind an excerpt.
// The first request of a session is {"op":"hello"}; its reply carries the helper's
// version and bundle hash so the provider knows the host runs exactly what it deployed;
// its args may carry {idleExitMs}: the helper exits after that long without any input
// (the provider sends {"op":"ping"} more often than that while it is there), so a helper
// whose provider vanished without closing the connection does not stay on the host.
export interface Request {
  id: number;
  op: string;
  args?: unknown;
  /**
   * How long the provider waits for the answer, counted from when the helper reads the
   * request (relative: the two clocks need not agree). Lock waits end before it.
   */
  deadlineMs?: number;
  /** The same deadline in the helper's clock (Date.now()), by the offset hello measured. */
  deadlineAt?: number;
}

export interface ErrorBody {
  code: string;
  message: string;
  errno?: number;
  kernelMessage?: string;
  log?: string;
  problems?: { field: string; message: string }[];
}

export type Outcome = { ok: true; result: unknown } | { ok: false; error: ErrorBody };
export type Response = { id: number } & Outcome;

export interface BatchArgs {
  requests: { op: string; args?: unknown; deadlineMs?: number; deadlineAt?: number }[];
}

export interface BatchResult {
  results: Outcome[];
}

export const PROTOCOL_VERSION = 1;
