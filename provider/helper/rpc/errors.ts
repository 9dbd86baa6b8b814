// Turns whatever an op threw into the protocol's error body, keeping what the kernel said.
import { KernelError } from "../kernel/errors";
import { ValidationError } from "../../common/validate/errors";
import { ErrorBody } from "../../common/protocol";

/** An error an op raises on purpose, with a stable code the provider can act on. */
export class OpError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = "OpError";
  }
}

// A verifier log can be megabytes; its end says why the program was rejected.
const MAX_LOG_CHARS = 256 * 1024;

function tail(text: string, max: number): string {
  return text.length <= max ? text : `...${text.slice(text.length - max)}`;
}

export function toErrorBody(err: unknown): ErrorBody {
  if (err instanceof ValidationError) {
    return { code: err.code, message: err.message, problems: err.problems };
  }
  if (err instanceof KernelError) {
    const body: ErrorBody = { code: err.code, message: err.message, errno: err.errno };
    if (err.kernelMessage) body.kernelMessage = err.kernelMessage;
    if (err.log) body.log = tail(err.log, MAX_LOG_CHARS);
    if (err.attribute) body.attribute = err.attribute;
    return body;
  }
  if (err instanceof OpError) return { code: err.code, message: err.message };
  const e = err as { code?: unknown; message?: unknown };
  return {
    code: typeof e?.code === "string" ? e.code : "EINTERNAL",
    message: typeof e?.message === "string" ? e.message : String(err),
  };
}
