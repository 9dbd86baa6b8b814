// The helper's loop: one JSON request per stdin line, one response per stdout line.
// Responses go out in request order; the process ends when stdin closes.
import { Readable, Writable } from "node:stream";
import { Dispatcher } from "./dispatcher";
import { Request, Response } from "../../common/protocol";

export interface ServeOptions {
  /** Called when input arrives and when the answers to it are written (see IdleWatchdog). */
  onActivity?: () => void;
}

export function serve(dispatcher: Dispatcher, input: Readable, output: Writable, opts: ServeOptions = {}): Promise<void> {
  return new Promise((resolve) => {
    // Pieces of a line not complete yet, joined once its newline arrives: a 1 MB batch
    // line comes in many chunks, and appending to one string and searching it again on
    // every chunk would copy it over and over.
    let partial: string[] = [];
    input.setEncoding("utf8");
    input.on("data", (chunk: string) => {
      // Deadlines count from here: the provider's budgets are relative to the moment
      // the helper reads a request.
      const receivedAt = Date.now();
      opts.onActivity?.();
      const last = chunk.lastIndexOf("\n");
      if (last < 0) {
        partial.push(chunk);
        return;
      }
      const text = partial.length ? partial.join("") + chunk.slice(0, last) : chunk.slice(0, last);
      partial = last + 1 < chunk.length ? [chunk.slice(last + 1)] : [];
      const lines = text.split("\n").filter((l) => l.trim());
      // Requests that arrived together are handled together (see Dispatcher.handleAll)
      // and answered with one write: pipelined requests cost one syscall, not one each.
      if (lines.length) output.write(handleLines(dispatcher, lines, receivedAt).map((r) => JSON.stringify(r) + "\n").join(""));
      opts.onActivity?.();
    });
    input.on("end", () => resolve());
  });
}

type Parsed = { req: Request } | { bad: Response };

function handleLines(dispatcher: Dispatcher, lines: string[], receivedAt: number): Response[] {
  const parsed = lines.map(parseLine);
  const out: Response[] = [];
  for (let i = 0; i < parsed.length; ) {
    const p = parsed[i];
    if ("bad" in p) {
      out.push(p.bad);
      i++;
      continue;
    }
    let j = i;
    const run: Request[] = [];
    for (; j < parsed.length; j++) {
      const q = parsed[j];
      if ("bad" in q) break;
      run.push(q.req);
    }
    for (const r of dispatcher.handleAll(run, receivedAt)) out.push(r);
    i = j;
  }
  return out;
}

function parseLine(line: string): Parsed {
  let req: Request;
  try {
    req = JSON.parse(line);
  } catch {
    return { bad: { id: -1, ok: false, error: { code: "EPROTO", message: `request is not JSON: ${line.slice(0, 80)}` } } };
  }
  if (typeof req !== "object" || req === null || typeof req.id !== "number" || typeof req.op !== "string") {
    return { bad: { id: typeof req?.id === "number" ? req.id : -1, ok: false, error: { code: "EPROTO", message: "request needs a numeric id and a string op" } } };
  }
  return { req };
}
