#!/usr/bin/env node
// The `hvnet` command (package.json "bin"): operator tools over the provider's transport.
// Arguments are parsed by commander; each command lives in cli/commands/.
import { Command, CommanderError, Option } from "commander";
import { resolveTargets, type HostFlags } from "./hosts";
import { connect } from "./connect";
import { UsageError, oneLine } from "./errors";
import { doctor, parseRequire } from "./commands/doctor";
import { statsOnce, statsWatch } from "./commands/stats";
import { metricsOnce, parseListen, serveMetrics } from "./commands/metrics";
import { fleet, type FleetFlags } from "./commands/fleet";

interface CommonFlags extends HostFlags {
  json?: boolean;
  connectTimeout: string;
}

function withHostOptions(cmd: Command): Command {
  return cmd
    .option("--inventory <file>", "a lab inventory (default: $HVNET_LAB_INVENTORY or .lab/inventory.json)")
    .option("--hosts-file <file>", "a stack's config hosts as JSON (pulumi config get hosts > hosts.json), - for stdin")
    .option("--host <address>", "one host by its address (with --host-key and --identity or an ssh-agent)")
    .option("--host-key <key>", "the host's key: SHA256:… fingerprint or an OpenSSH public key line")
    .option("--insecure-ignore-host-key", "connect without checking the host key (never on production hosts)")
    .option("--identity <file>", "private key file for --host")
    .option("--port <port>", "SSH port for --host (default 22)")
    .option("--user <user>", "SSH user for --host (default root; others run the helper with sudo -n)")
    .option("--name <name>", "the host's name in output for --host (default: its address)")
    .option("--only <names>", "only these hosts (comma-separated names)")
    .option("--connect-timeout <seconds>", "bound on connecting to each host", "10");
}

function seconds(text: string, flag: string, min: number): number {
  const v = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || v < min) throw new UsageError(`${flag} must be a number of seconds >= ${min}, got ${JSON.stringify(text)}`);
  return v;
}

async function withHosts(flags: CommonFlags, fn: (conn: ReturnType<typeof connect>, targets: ReturnType<typeof resolveTargets>) => Promise<number>): Promise<number> {
  const targets = resolveTargets(flags);
  const conn = connect({ connectTimeoutMs: seconds(flags.connectTimeout, "--connect-timeout", 1) * 1000 });
  try {
    return await fn(conn, targets);
  } finally {
    await conn.close();
  }
}

/** Resolves on the first SIGINT/SIGTERM (the watch and the server stop cleanly on it). */
function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
}

export function program(run: (code: Promise<number>) => void): Command {
  const p = new Command("hvnet")
    .description("Operator tools for hvnet hypervisors: what each host can run, and what its XDP datapath does")
    .version("0.1.0")
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(`hvnet: ${str.replace(/^error: /, "")}`) });

  withHostOptions(p.command("doctor").description("what each host has, and which hvnet resources it can run (and why not)"))
    .option("--require <capabilities>", "exit 1 unless every host has these: netkit-lease,rss-contexts,ntuple")
    .option("--json", "JSON for scripts")
    .action((flags: CommonFlags & { require?: string }) => {
      const required = parseRequire(flags.require);
      run(withHosts(flags, (conn, targets) => doctor(conn, targets, required, !!flags.json, process.stdout, process.stderr)));
    });

  withHostOptions(p.command("stats").description("frames per host and attachment by outcome and reason, the fast-path share, per-VM drops"))
    .option("--json", "JSON for scripts")
    .addOption(new Option("--watch", "refresh rates in place until Ctrl-C").conflicts("json"))
    .option("--interval <seconds>", "refresh interval of --watch", "2")
    .action((flags: CommonFlags & { watch?: boolean; interval: string }) => {
      const interval = seconds(flags.interval, "--interval", 0.2) * 1000;
      run(
        withHosts(flags, (conn, targets) =>
          flags.watch ? statsWatch(conn, targets, interval, process.stdout, untilSignal()) : statsOnce(conn, targets, !!flags.json, process.stdout, process.stderr),
        ),
      );
    });

  withHostOptions(p.command("metrics").description("the stats counters in the Prometheus text format, to stdout or served at /metrics"))
    .option("--listen <addr>", "serve /metrics on HOST:PORT (:PORT for every address, port 0 for a free one) instead of printing once")
    .action((flags: CommonFlags & { listen?: string }) => {
      const listen = flags.listen === undefined ? undefined : parseListen(flags.listen);
      if (flags.listen !== undefined && !listen) throw new UsageError(`--listen ${flags.listen}: expected HOST:PORT, [IPv6]:PORT or :PORT`);
      run(
        withHosts(flags, async (conn, targets) => {
          if (!listen) return metricsOnce(conn, targets, process.stdout, process.stderr);
          const server = await serveMetrics(conn, targets, listen, process.stderr);
          const a = server.address();
          process.stderr.write(`hvnet: serving /metrics on ${typeof a === "object" && a ? `${a.address}:${a.port}` : flags.listen}\n`);
          await untilSignal();
          await new Promise((r) => server.close(r));
          return 0;
        }),
      );
    });

  const fleetCmd = p
    .command("fleet")
    .description("preview, update or destroy a fleet as shard stacks: canary shard first, a bounded number in flight, stop on the first failure")
    // Without a subcommand: one line, like every other usage error (not commander's help page).
    .action(() => {
      throw new UsageError("fleet needs a command: preview, up or destroy (hvnet fleet up --help)");
    });
  for (const op of ["preview", "up", "destroy"] as const) {
    fleetCmd
      .command(op)
      .description(`${op} every shard stack`)
      .option("--project <dir>", "the Pulumi project each shard stack runs")
      .option("--inventory <file>", "the fleet's hosts: a lab inventory.json, or a JSON list of hosts (connection, uplink, labels)")
      .option("--shard-by <label>", "one shard per value of this host label (e.g. rack)")
      .option("--shard-size <n>", "shards of n hosts, in inventory order")
      .option("--concurrency <n>", "shards in flight at once after the canary", "4")
      .option("--canary <shard>", "the shard that goes first, alone (default: the first shard)")
      .option("--no-canary", "no canary shard")
      .option("--only <shards>", "only these shards (comma-separated; one CI job per shard)")
      .option("--stack-prefix <prefix>", "shard stacks are named PREFIX-SHARD", "fleet")
      .option("--config <key=value>", "plain stack config for every shard (repeatable)", (v: string, prev: string[]) => [...prev, v], [] as string[])
      .option("--json", "the result as JSON for scripts (no progress lines)")
      .action((flags: FleetFlags) => run(fleet(op, flags, process.stdout, process.stderr)));
  }
  return p;
}

export async function main(argv: string[]): Promise<number> {
  let pending: Promise<number> | undefined;
  try {
    await program((code) => (pending = code)).parseAsync(argv, { from: "user" });
    return pending ? await pending : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2; // commander printed it
    const code = err instanceof UsageError ? 2 : 1;
    process.stderr.write(`hvnet: ${oneLine(err)}\n`);
    return code;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
