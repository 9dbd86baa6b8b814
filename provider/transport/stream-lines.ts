// Text streams of the helper's channel as lines: its stdout carries one JSON message a
// line, its stderr is kept as a short tail for the error that explains a crash.

/** Splits chunks into whole lines; an unfinished last line waits for the next chunk. */
export class LineSplitter {
  private rest = "";

  feed(chunk: string): string[] {
    const lines = (this.rest + chunk).split("\n");
    this.rest = lines.pop() ?? "";
    return lines;
  }

  /** The unfinished line so far. */
  get pending(): string {
    return this.rest;
  }
}

/** The last `max` lines pushed, oldest first. */
export class LastLines {
  private readonly lines: string[] = [];

  constructor(private readonly max: number) {}

  push(line: string): void {
    this.lines.push(line);
    if (this.lines.length > this.max) this.lines.shift();
  }

  /** The kept lines, then `pending` (a line not finished yet) when there is one. */
  snapshot(pending = ""): string[] {
    return pending ? [...this.lines, pending] : [...this.lines];
  }
}
