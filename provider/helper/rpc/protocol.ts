// The helper's wire protocol: newline-delimited JSON over stdin/stdout.
// Request {"id","op","args"}; response {"id","ok":true,"result"} or
// {"id","ok":false,"error":{"code","message","errno"?,"kernelMessage"?,"problems"?}}.
// The first request of a session is {"op":"hello"}; its reply carries the helper's
// version and bundle hash so the provider knows the host runs exactly what it deployed.
export interface Request {
  id: number;
  op: string;
  args?: unknown;
}

export interface ErrorBody {
  code: string;
  message: string;
  errno?: number;
  kernelMessage?: string;
  problems?: { field: string; message: string }[];
}

export type Outcome = { ok: true; result: unknown } | { ok: false; error: ErrorBody };
export type Response = { id: number } & Outcome;

export interface BatchArgs {
  requests: { op: string; args?: unknown }[];
}

export interface BatchResult {
  results: Outcome[];
}

export const PROTOCOL_VERSION = 1;
