// The helper's wire protocol: newline-delimited JSON over stdin/stdout.
// Request {"id","op","args","deadlineMs"?,"deadlineAt"?}; response {"id","ok":true,"result"} or
// {"id","ok":false,"error":ErrorBody}: the one error contract of both sides.
// The first request of a session is {"op":"hello"}; its reply carries the helper's
// version and bundle hash so the provider knows the host runs exactly what it deployed;
// its args may carry {idleExitMs}: the helper exits after that long without any input
// (the provider sends {"op":"ping"} more often than that while it is there), so a helper
// whose provider vanished without closing the connection does not stay on the host.
import type { FieldProblem } from "./validate/errors";

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

/**
 * A failed operation as the helper reports it and the provider raises it (HelperError).
 * `message` is complete: it already says the kernel's text, the attribute and the fields
 * below; they are repeated as fields for code that acts on them, never for printing beside
 * the message.
 */
export interface ErrorBody {
  code: string;
  message: string;
  errno?: number;
  /** What the kernel said (netlink extended ack text, the verifier's last lines). */
  kernelMessage?: string;
  /** The whole libbpf/verifier log when kernelMessage is its excerpt. */
  log?: string;
  /** The input fields the helper refused, each with its reason. */
  problems?: FieldProblem[];
  /**
   * The request attribute a netlink error points at (extended ack): its path by name
   * ("IFLA_LINKINFO > IFLA_INFO_DATA > IFLA_NETKIT_MODE"), or by number and offset when
   * the request's attribute names are not known.
   */
  attribute?: string;
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
