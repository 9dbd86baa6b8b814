// What the request being served says about itself, for code deep below the dispatcher
// that must not have it threaded through every resource function: who asks (the owner
// recorded as a lock's holder) and until when the provider waits for the answer (the
// bound of every lock wait). The helper serves one request at a time on one thread, so
// one current context is enough.
import { OWNER_TEXT, OWNERSHIP_FIELD } from "../../common/args/common";

/** Without a deadline from the provider (tools, tests), a request still ends: 60 s. */
export const DEFAULT_DEADLINE_MS = 60_000;

export interface RequestContext {
  /** "<project>/<stack>/<Type>/<name>", or a summary for a group; absent when not given. */
  owner?: string;
  /** Date.now() value by which the answer must be written. */
  deadline: number;
}

let current: RequestContext | undefined;

export function withRequestContext<T>(ctx: RequestContext, fn: () => T): T {
  const outer = current;
  current = ctx;
  try {
    return fn();
  } finally {
    current = outer;
  }
}

/** The context of the request being served; outside any, a fresh default deadline. */
export function currentRequest(): RequestContext {
  return current ?? { deadline: Date.now() + DEFAULT_DEADLINE_MS };
}

/**
 * The owner a request's args carry (`ownership.owner`), when it passes readOwnership's
 * rule: owners land in records and messages, so nothing but plain text is taken.
 */
export function ownerOf(args: unknown): string | undefined {
  const o = (args as { [OWNERSHIP_FIELD]?: { owner?: unknown } } | null | undefined)?.[OWNERSHIP_FIELD]?.owner;
  return typeof o === "string" && OWNER_TEXT.test(o) ? o : undefined;
}

/** One owner for a group of requests served together (a batch of FDB entries). */
export function groupOwner(argsList: unknown[]): string | undefined {
  const owners = [...new Set(argsList.map(ownerOf).filter((o): o is string => o !== undefined))];
  if (owners.length <= 1) return owners[0];
  return `${owners[0]} (and ${owners.length - 1} other owner${owners.length > 2 ? "s" : ""})`;
}

/**
 * The deadline of a request received at `receivedAt` with the provider's budget
 * `deadlineMs`, counted from when the helper reads it. A request that waited unread
 * behind a slow one has less left than that: `deadlineAt` is the provider's deadline in
 * this host's clock (it measured the offset in hello), and the earlier of the two wins.
 */
export function deadlineOf(receivedAt: number, deadlineMs: unknown, deadlineAt?: unknown): number {
  const ms = typeof deadlineMs === "number" && Number.isFinite(deadlineMs) && deadlineMs >= 0 ? deadlineMs : DEFAULT_DEADLINE_MS;
  const relative = receivedAt + Math.min(ms, 24 * 3600_000);
  return typeof deadlineAt === "number" && Number.isFinite(deadlineAt) ? Math.min(relative, deadlineAt) : relative;
}
