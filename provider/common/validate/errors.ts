// Bad input is reported before any host is touched, with the field and the value named,
// and all problems of one input at once so a user fixes them in one round.
export interface FieldProblem {
  field: string;
  message: string;
}

export class ValidationError extends Error {
  readonly code = "EINVALIDINPUT";
  readonly problems: FieldProblem[];

  constructor(problems: FieldProblem[]) {
    super(problems.map((p) => `${p.field}: ${p.message}`).join("; "));
    this.name = "ValidationError";
    this.problems = problems;
  }
}

export function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (value === undefined) return "undefined";
  // JSON would print NaN and Infinity as null: the user gave neither null nor nothing.
  if (typeof value === "number") return String(value);
  try {
    const s = JSON.stringify(value);
    return s.length > 80 ? `${s.slice(0, 77)}...` : s;
  } catch {
    return String(value);
  }
}
