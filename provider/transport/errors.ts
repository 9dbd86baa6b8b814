// Errors of the transport layer. Each one names the host (its identity) so a fleet-wide
// `pulumi up` that fails on one hypervisor says which one without a stack trace.

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

export interface HelperErrorBody {
  code: string;
  message: string;
  errno?: string | number;
  kernelMessage?: string;
  /** The whole libbpf/verifier log when kernelMessage is its excerpt. */
  log?: string;
}

/**
 * An operation the helper reported as failed, or a helper that died under a request.
 * Carries the helper's code/errno/kernelMessage so the provider can map them to
 * field-level messages.
 */
export class HelperError extends Error {
  readonly code: string;
  readonly errno?: string | number;
  readonly kernelMessage?: string;
  readonly log?: string;
  constructor(
    readonly host: string,
    readonly op: string,
    body: HelperErrorBody,
    /** The helper's last stderr lines, when the failure was the helper itself. */
    readonly stderr: string[] = [],
  ) {
    const tail = stderr.length ? `\nhelper stderr (last ${stderr.length} lines):\n  ${stderr.join("\n  ")}` : "";
    // The helper's message already says what the kernel said; a body from elsewhere may not.
    const km = body.kernelMessage && !body.message.includes(body.kernelMessage) ? ` (kernel: ${body.kernelMessage})` : "";
    super(`${host}: ${op}: ${body.message}${km}${tail}`);
    this.name = "HelperError";
    this.code = body.code;
    this.errno = body.errno;
    this.kernelMessage = body.kernelMessage;
    if (body.log) this.log = body.log;
  }
}
