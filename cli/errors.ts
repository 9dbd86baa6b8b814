// What the command tells the operator when it cannot do its job: one line, and an exit
// status scripts can tell apart (2: the command line is wrong, 1: a host failed or lacks
// what was required).
export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** One line for an error: its first line, never a stack (the message names host and field). */
export function oneLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split("\n")[0];
}
