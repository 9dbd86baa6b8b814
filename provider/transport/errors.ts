// Errors of the transport layer. Each one names the host (its identity) so a fleet-wide
// `pulumi up` that fails on one hypervisor says which one without a stack trace.
import type { ErrorBody } from "../common/protocol";
import type { FieldProblem } from "../common/validate/errors";

/** Anything that went wrong reaching a host or talking to its helper. */
export class TransportError extends Error {
  constructor(
    readonly host: string,
    message: string,
    readonly code = "ETRANSPORT",
    options?: { cause?: unknown },
  ) {
    super(`${host}: ${message}`, options);
    this.name = "TransportError";
  }
}

/** The host presented a key other than the pinned one. Never retried. */
export class HostKeyMismatchError extends TransportError {
  constructor(
    host: string,
    readonly expected: string,
    readonly presented: string[],
  ) {
    super(
      host,
      `host key mismatch: expected ${expected}, host presented ${presented.join(", ")}` +
        " (the host was reinstalled, or someone is in the middle; check the key and update host.hostKey)",
      "EHOSTKEY",
    );
    this.name = "HostKeyMismatchError";
  }
}

/** The server refused every credential we offered. Never retried. */
export class AuthError extends TransportError {
  constructor(host: string, user: string, detail: string) {
    super(host, `authentication as ${user} failed: ${detail}`, "EAUTH");
    this.name = "AuthError";
  }
}

/** The host cannot run the helper (no Node >= 20, no libbpf.so.1). */
export class HostRequirementError extends TransportError {
  constructor(host: string, message: string) {
    super(host, message, "EHOSTREQ");
    this.name = "HostRequirementError";
  }
}

/**
 * An operation the helper reported as failed, or a helper that died under a request.
 * Keeps every field of the helper's error body (protocol.ts ErrorBody) so the provider
 * can act on code, errno, field problems and the attribute the kernel pointed at.
 */
export class HelperError extends Error {
  readonly code: string;
  readonly errno?: number;
  readonly kernelMessage?: string;
  readonly log?: string;
  readonly problems?: FieldProblem[];
  readonly attribute?: string;
  constructor(
    readonly host: string,
    readonly op: string,
    body: ErrorBody,
    /** The helper's last stderr lines, when the failure was the helper itself. */
    readonly stderr: string[] = [],
  ) {
    const tail = stderr.length ? `\nhelper stderr (last ${stderr.length} lines):\n  ${stderr.join("\n  ")}` : "";
    super(`${host}: ${op}: ${body.message}${unsaid(body)}${tail}`);
    this.name = "HelperError";
    this.code = body.code;
    this.errno = body.errno;
    this.kernelMessage = body.kernelMessage;
    if (body.log) this.log = body.log;
    if (body.problems) this.problems = body.problems;
    if (body.attribute) this.attribute = body.attribute;
  }
}

/**
 * What the body knows and its message does not say yet. The helper's messages already
 * say it all; a body from elsewhere may not, and the operator reads each thing once.
 */
function unsaid(body: ErrorBody): string {
  const said = (text: string) => body.message.includes(text);
  const parts: string[] = [];
  if (body.kernelMessage && !said(body.kernelMessage)) parts.push(`kernel: ${body.kernelMessage}`);
  if (body.attribute && !said(body.attribute)) parts.push(`attribute ${body.attribute}`);
  const problems = (body.problems ?? []).map((p) => `${p.field}: ${p.message}`).filter((p) => !said(p));
  if (problems.length) parts.push(problems.join("; "));
  return parts.length ? ` (${parts.join("; ")})` : "";
}
