// The helper's loop: one JSON request per stdin line, one response per stdout line.
// Responses go out in request order; the process ends when stdin closes.
import { Readable, Writable } from "node:stream";
import { Dispatcher } from "./dispatcher";
import { Request } from "./protocol";

export function serve(dispatcher: Dispatcher, input: Readable, output: Writable): Promise<void> {
  return new Promise((resolve) => {
    let buffered = "";
    const pending: string[] = [];
    const flush = () => {
      if (pending.length) output.write(pending.join(""));
      pending.length = 0;
    };
    input.setEncoding("utf8");
    input.on("data", (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line.trim()) pending.push(JSON.stringify(handleLine(dispatcher, line)) + "\n");
      }
      // One write per chunk of input: pipelined requests cost one syscall, not one each.
      flush();
    });
    input.on("end", () => {
      flush();
      resolve();
    });
  });
}

function handleLine(dispatcher: Dispatcher, line: string) {
  let req: Request;
  try {
    req = JSON.parse(line);
  } catch {
    return { id: -1, ok: false, error: { code: "EPROTO", message: `request is not JSON: ${line.slice(0, 80)}` } };
  }
  if (typeof req !== "object" || req === null || typeof req.id !== "number" || typeof req.op !== "string") {
    return { id: typeof req?.id === "number" ? req.id : -1, ok: false, error: { code: "EPROTO", message: "request needs a numeric id and a string op" } };
  }
  return dispatcher.handle(req);
}
