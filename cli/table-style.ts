// One look for every table: no colours (output is often piped or pasted), no rule
// between rows (a fleet's rows stay one screen line each).
export const TABLE_STYLE = { head: [] as string[], border: [] as string[], compact: true };
