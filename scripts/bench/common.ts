// What every benchmark shares: argument parsing, medians, target verdicts, the Markdown
// section it writes, and cleanup that runs on failure and on Ctrl-C as well.
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";

/**
 * The dependencies of a benchmark's temp Pulumi project: the packed package (scripts/pack-examples.sh
 * puts it in ../.pack) and the same @pulumi/pulumi the repo pins, so the program runs the SDK the
 * CLI was built for.
 */
export function benchProjectDependencies(): Record<string, string> {
  const repoPackage = JSON.parse(readFileSync(path.resolve(__dirname, "..", "..", "package.json"), "utf8")) as {
    dependencies: Record<string, string>;
  };
  return { "@hvnet/pulumi": "file:../.pack/hvnet-pulumi.tgz", "@pulumi/pulumi": repoPackage.dependencies["@pulumi/pulumi"] };
}

export function median(xs: number[]): number {
  if (xs.length === 0) throw new Error("median of nothing");
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function minOf(xs: number[]): number {
  return Math.min(...xs);
}

export function maxOf(xs: number[]): number {
  return Math.max(...xs);
}

/** Milliseconds since an hrtime.bigint() stamp. */
export function msSince(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

export function fmt(n: number, digits = 1): string {
  return n.toLocaleString("en", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function fmtInt(n: number): string {
  return Math.round(n).toLocaleString("en");
}

export interface Verdict {
  /** What is measured, e.g. "10,000 FDB entries in one batch". */
  what: string;
  /** The target as text, e.g. "≤ 50 ms". */
  target: string;
  /** The measured value as text. */
  value: string;
  ok: boolean;
}

export function atMost(what: string, value: number, max: number, unit: string, digits = 1, targetDigits = 0): Verdict {
  return { what, target: `≤ ${fmt(max, targetDigits)} ${unit}`, value: `${fmt(value, digits)} ${unit}`, ok: value <= max };
}

export function atLeast(what: string, value: number, min: number, unit: string): Verdict {
  return { what, target: `≥ ${fmtInt(min)} ${unit}`, value: `${fmtInt(value)} ${unit}`, ok: value >= min };
}

export function verdictTable(verdicts: Verdict[]): string[] {
  return [
    "| target | measured | required | result |",
    "|---|---:|---:|---|",
    ...verdicts.map((v) => `| ${v.what} | ${v.value} | ${v.target} | ${v.ok ? "PASS" : "MISS"} |`),
  ];
}

export interface Options {
  out: string;
  rounds: number;
  flags: Map<string, string>;
}

/** `OUTFILE [--rounds N] [--name value]...`; names outside `known` are refused. */
export function parseArgs(argv: string[], usage: string, known: string[], defaultRounds: number): Options {
  const opts: Options = { out: "", rounds: defaultRounds, flags: new Map() };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith("--")) {
      const name = a.slice(2);
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value\nusage: ${usage}`);
      if (name === "rounds") opts.rounds = Number(v);
      else if (known.includes(name)) opts.flags.set(name, v);
      else throw new Error(`unknown option ${a}\nusage: ${usage}`);
    } else if (!opts.out) opts.out = a;
    else throw new Error(`unexpected argument ${a}\nusage: ${usage}`);
  }
  if (!opts.out) throw new Error(`usage: ${usage}`);
  if (!Number.isInteger(opts.rounds) || opts.rounds < 1) throw new Error("--rounds must be a positive integer");
  return opts;
}

type Cleanup = () => void | Promise<void>;

/**
 * Runs cleanups in reverse order of registration. Each runs once, whether the benchmark
 * ends normally, throws, or is interrupted (SIGINT/SIGTERM/SIGHUP): a benchmark must
 * not leave namespaces, labs or pins behind.
 */
export class Cleanups {
  private readonly list: Array<{ name: string; fn: Cleanup }> = [];
  private running?: Promise<void>;

  constructor() {
    for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
      process.once(sig, () => {
        process.stderr.write(`\n${sig}: cleaning up\n`);
        void this.run().finally(() => process.exit(130));
      });
    }
  }

  add(name: string, fn: Cleanup): void {
    this.list.push({ name, fn });
  }

  run(): Promise<void> {
    this.running ??= (async () => {
      for (const { name, fn } of this.list.splice(0).reverse()) {
        try {
          await fn();
        } catch (e) {
          // Keep removing the rest; say what could not be removed.
          process.stderr.write(`cleanup ${name} failed: ${e instanceof Error ? e.message : String(e)}\n`);
          process.exitCode = process.exitCode || 1;
        }
      }
    })();
    return this.running;
  }
}

/**
 * Runs a benchmark body, writes its Markdown section to OUTFILE and stdout. Exit code
 * 0: every target met; 1: a target missed or the benchmark failed (it then writes a
 * section saying so, so BENCHMARKS.md never silently keeps stale numbers).
 */
export async function runBenchmark(
  title: string,
  out: string,
  body: (cleanups: Cleanups) => Promise<{ lines: string[]; verdicts: Verdict[] }>,
): Promise<void> {
  const cleanups = new Cleanups();
  let text: string;
  let code: number;
  try {
    const { lines, verdicts } = await body(cleanups);
    text = [`## ${title}`, "", ...lines, "", ...verdictTable(verdicts), ""].join("\n");
    code = verdicts.every((v) => v.ok) ? 0 : 1;
  } catch (e) {
    const msg = e instanceof Error ? (e.stack ?? e.message) : String(e);
    process.stderr.write(`${title}: ${msg}\n`);
    text = [`## ${title}`, "", "**FAILED**: the benchmark did not complete:", "", "```", String(e instanceof Error ? e.message : e), "```", ""].join("\n");
    code = 1;
  } finally {
    await cleanups.run();
  }
  writeFileSync(out, text);
  process.stdout.write(text);
  process.exitCode = process.exitCode || code;
}

export interface Series {
  name: string;
  colour: string;
  dashed?: boolean;
  points: Array<{ x: number; y: number }>;
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** A step of 1, 2 or 5 × 10^k giving about `ticks` ticks up to max. */
function niceStep(max: number, ticks: number): number {
  const raw = max / ticks;
  const p = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? 10 * p;
}

/**
 * A line chart as a self-contained SVG (no fonts, scripts or libraries): a curve reads
 * faster than a table, and the file diffs as text in the repo. Axes start at 0 so the
 * growth with x is not exaggerated.
 */
export function lineChartSvg(o: { title: string; xLabel: string; yLabel: string; series: Series[] }): string {
  const W = 720, H = 420, L = 64, R = 190, T = 40, B = 50;
  const xs = o.series.flatMap((s) => s.points.map((p) => p.x));
  const ys = o.series.flatMap((s) => s.points.map((p) => p.y));
  const xStep = niceStep(Math.max(...xs, 1), 5);
  const yStep = niceStep(Math.max(...ys, 1e-9), 6);
  const xMax = Math.ceil(Math.max(...xs, 1) / xStep) * xStep;
  const yMax = Math.ceil(Math.max(...ys, 1e-9) / yStep) * yStep;
  const px = (x: number) => L + (x / xMax) * (W - L - R);
  const py = (y: number) => H - B - (y / yMax) * (H - T - B);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="14">${esc(o.title)}</text>`,
  ];
  for (let y = 0; y <= yMax + 1e-9; y += yStep) {
    out.push(`<line x1="${L}" x2="${W - R}" y1="${py(y).toFixed(1)}" y2="${py(y).toFixed(1)}" stroke="#ddd"/>`);
    out.push(`<text x="${L - 6}" y="${(py(y) + 4).toFixed(1)}" text-anchor="end">${+y.toFixed(6)}</text>`);
  }
  for (let x = 0; x <= xMax + 1e-9; x += xStep) {
    out.push(`<line x1="${px(x).toFixed(1)}" x2="${px(x).toFixed(1)}" y1="${H - B}" y2="${H - B + 4}" stroke="#333"/>`);
    out.push(`<text x="${px(x).toFixed(1)}" y="${H - B + 18}" text-anchor="middle">${x.toLocaleString("en")}</text>`);
  }
  out.push(`<line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" stroke="#333"/>`, `<line x1="${L}" x2="${L}" y1="${T}" y2="${H - B}" stroke="#333"/>`);
  out.push(`<text x="${(L + W - R) / 2}" y="${H - 10}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  out.push(`<text transform="translate(16 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`);
  o.series.forEach((s, i) => {
    const pts = [...s.points].sort((a, b) => a.x - b.x).map((p) => `${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`);
    const dash = s.dashed ? ` stroke-dasharray="6 4"` : "";
    out.push(`<polyline fill="none" stroke="${s.colour}" stroke-width="2"${dash} points="${pts.join(" ")}"/>`);
    for (const p of pts) out.push(`<circle cx="${p.split(",")[0]}" cy="${p.split(",")[1]}" r="3" fill="${s.colour}"/>`);
    const ly = T + 10 + i * 20;
    out.push(`<line x1="${W - R + 14}" x2="${W - R + 44}" y1="${ly}" y2="${ly}" stroke="${s.colour}" stroke-width="2"${dash}/>`);
    out.push(`<text x="${W - R + 50}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}
