// Lock held: a device lock held by someone else never freezes a helper. The wait ends at
// the request's deadline with an error naming the holder (owner, pid, since), before
// anything is changed; a holder that no longer runs holds nothing.
//
// First against this machine's kernel (real flock on a scratch state directory), then
// over real SSH: a lab host whose device lock the test holds inside the host's mount
// namespace, with a holder record as a helper writes it, and the provider runtime
// creating a VmInterface on that device; last, `pulumi up` of the quickstart while the
// uplink's lock is held.
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { requireRoot } from "../support/require-root";
import { LAB_SCRIPT, labUp, type Lab, type LabHost } from "../support/lab";
import { HostPool } from "../../provider/transport/pool";
import type { HostSpec } from "../../provider/transport/host-spec";
import { HelperError } from "../../provider/transport/errors";
import { KINDS } from "../../provider/kinds";
import { requireValidInputs } from "../../provider/runtime/check";
import { createResource, deleteResource } from "../../provider/runtime/operations";
import { exampleSuite } from "../e2e/support/suite";
import type { ExampleProject } from "../e2e/support/project";

// The state directory is read when the lock module loads: set it first, load it lazily.
const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "hvt-locks-"));
process.env.HVNET_STATE_DIR = stateDir;
type LockModule = typeof import("../../provider/helper/state/lock");
type ContextModule = typeof import("../../provider/helper/state/request-context");
const lockMod = (): LockModule => require("../../provider/helper/state/lock");
const ctxMod = (): ContextModule => require("../../provider/helper/state/request-context");

const HELPER_DIR = path.resolve(__dirname, "..", "..", "dist", "helper");
const ISO = "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(\\.\\d+)?Z";

afterAll(() => {
  fs.rmSync(stateDir, { recursive: true, force: true });
});

/** Holds `lock` inside a lab host as a helper would: its holder record first, then flock, then stays. */
async function holdLock(lab: Lab, host: LabHost, lock: string, owner: string): Promise<ChildProcess> {
  const script = [
    `mkdir -p "$(dirname "$1")"`,
    `printf '{"owner":"%s","pid":%d,"since":"%s"}\\n' "$2" $$ "$(date -u +%Y-%m-%dT%H:%M:%S.000Z)" > "$1"`,
    `exec 9<"$1"`,
    `flock -n 9 || exit 7`,
    `echo held`,
    `exec sleep 600`,
  ].join("\n");
  const child = spawn(LAB_SCRIPT, ["exec", "--name", lab.name, "--dir", lab.dir, host.name, "--", "sh", "-c", script, "sh", lock, owner], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (d) => String(d).includes("held") && resolve());
    child.once("exit", (code) => reject(new Error(`the lock holder exited (${code}) before holding ${lock}`)));
  });
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once("exit", r));
  child.kill("SIGKILL");
  await gone;
}

describe("against this machine's kernel (flock on a scratch state directory)", () => {
  beforeAll(() => requireRoot());

  test("a held lock: the wait ends at the request's deadline, the error names the holder, and nothing ran", () => {
    const { withLock } = lockMod();
    const { withRequestContext } = ctxMod();
    let ranInside = false;
    let caught: unknown;
    let waitedMs = 0;
    withRequestContext({ owner: "other/prod/VmInterface/vm0", deadline: Date.now() + 60_000 }, () =>
      withLock("dev--vmt0", () => {
        // A second open of the file is its own flock, as another helper's would be.
        const t0 = Date.now();
        try {
          withRequestContext({ owner: "me/dev/VmInterface/vm0", deadline: Date.now() + 800 }, () =>
            withLock("dev--vmt0", () => {
              ranInside = true;
            }),
          );
        } catch (e) {
          caught = e;
        }
        waitedMs = Date.now() - t0;
      }),
    );
    expect(ranInside).toBe(false);
    expect(waitedMs).toBeGreaterThanOrEqual(750);
    expect(waitedMs).toBeLessThan(2000);
    const err = caught as { code: string; message: string };
    expect(err.code).toBe("ELOCKED");
    expect(err.message).toMatch(
      new RegExp(`^lock dev--vmt0 is held by other/prod/VmInterface/vm0 \\(helper pid ${process.pid}, since ${ISO}\\); waited 0\\.[89] s, up to this request's deadline, and changed nothing\\.`),
    );
    expect(err.message).toContain(`stop it on the host (kill ${process.pid}) and run again`);
    // Released: the file is gone and the lock directory with it.
    expect(fs.existsSync(path.join(stateDir, "locks"))).toBe(false);
  });

  test("while held, the lock file says who holds it", () => {
    const { withLock, lockFile } = lockMod();
    const { withRequestContext } = ctxMod();
    const record = withRequestContext({ owner: "p/s/FdbEntry/a", deadline: Date.now() + 1000 }, () =>
      withLock("fdb-/sys/fs/bpf/hvnet/x/maps/fdb", () => JSON.parse(fs.readFileSync(lockFile("fdb-/sys/fs/bpf/hvnet/x/maps/fdb"), "utf8"))),
    );
    expect(record).toEqual({ owner: "p/s/FdbEntry/a", pid: process.pid, since: expect.stringMatching(new RegExp(`^${ISO}$`)) });
  });

  test("a lock held by a process that wrote no record: the error says so and how to find it", async () => {
    const { withLock, lockFile } = lockMod();
    const { withRequestContext } = ctxMod();
    const file = lockFile("nic-eth9");
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const other = spawn("flock", [file, "sh", "-c", "echo held; exec sleep 60"], { stdio: ["ignore", "pipe", "inherit"] });
    try {
      await new Promise((r) => other.stdout!.once("data", r));
      const err = (() => {
        try {
          withRequestContext({ deadline: Date.now() + 300 }, () => withLock("nic-eth9", () => undefined));
        } catch (e) {
          return e as { code: string; message: string };
        }
        throw new Error("withLock went ahead under a held lock");
      })();
      expect(err.code).toBe("ELOCKED");
      expect(err.message).toMatch(/^lock nic-eth9 is held by another process \(it wrote no holder record: not an hvnet helper, or one that just took it\); waited 0\.[23] s/);
      expect(err.message).toContain(`find what holds ${file} on the host (fuser -v) and stop it`);
    } finally {
      await stop(other);
      fs.rmSync(file, { force: true });
    }
  });

  test("a holder record left by a process that is gone does not block: flock died with it", () => {
    const { withLock, lockFile } = lockMod();
    const file = lockFile("dev--stale0");
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify({ owner: "old/stack/VmInterface/x", pid: 999999, since: "2026-01-01T00:00:00.000Z" }));
    const t0 = Date.now();
    const inside = withLock("dev--stale0", () => JSON.parse(fs.readFileSync(file, "utf8")));
    expect(Date.now() - t0).toBeLessThan(200);
    expect(inside.pid).toBe(process.pid);
    expect(fs.existsSync(file)).toBe(false);
  });
});

describe("over SSH: the runtime creates a VmInterface on a device whose lock another process holds", () => {
  const TAP = "vmt0";
  // resources/xdp.ts deviceLock(undefined, TAP) under the helper's /run/hvnet/locks.
  const LOCK = `/run/hvnet/locks/dev--${TAP}.lock`;
  const HOLDER_OWNER = "other-project/prod/VmInterface/vm0";
  let lab: Lab;
  let host: LabHost;
  let spec: HostSpec;
  let pool: HostPool | undefined;
  let holder: ChildProcess | undefined;
  const savedTimeout = process.env.HVNET_REQUEST_TIMEOUT;

  beforeAll(async () => {
    requireRoot();
    if (!fs.existsSync(path.join(HELPER_DIR, "helper.js"))) throw new Error("dist/helper is missing: run make build");
    lab = await labUp({ hosts: 1 });
    host = lab.inventory.hosts[0];
    spec = { name: host.name, address: host.address, port: host.port, user: host.user, hostKey: host.hostKey, privateKey: fs.readFileSync(host.privateKeyPath, "utf8") };
  }, 120_000);

  afterAll(async () => {
    if (savedTimeout === undefined) delete process.env.HVNET_REQUEST_TIMEOUT;
    else process.env.HVNET_REQUEST_TIMEOUT = savedTimeout;
    stopHolder();
    await pool?.close();
    lab?.down();
  }, 60_000);

  function stopHolder(): void {
    if (holder) stop(holder);
  }

  const create = (owner: string) => {
    const kind = KINDS.VmInterface;
    return createResource(pool!, kind, requireValidInputs(kind, { host: spec, name: TAP, vcpus: 1, mac: "52:54:00:00:0a:01", addresses: ["10.9.0.21"], __owner: owner }));
  };

  const links = () => JSON.parse(lab.hostExec(host.name, "ip", ["-j", "link", "show"])) as { ifname: string }[];

  test("fails within the bounded wait naming the holder, changes nothing, and succeeds once the holder is gone", async () => {
    const holderPid = (holder = await holdLock(lab, host, LOCK, HOLDER_OWNER)).pid!;
    process.env.HVNET_REQUEST_TIMEOUT = "3";
    pool = new HostPool({ helperDir: HELPER_DIR });
    // The helper is started (and deployed) first, so the time measured is the lock wait.
    await pool.request(spec, "probe", {});

    const t0 = Date.now();
    const err = (await create("me/dev/VmInterface/vm0").catch((e) => e)) as HelperError;
    const ms = Date.now() - t0;
    expect(err).toBeInstanceOf(HelperError);
    expect(err.code).toBe("ELOCKED");
    expect(err.message).toMatch(
      new RegExp(`^${host.name}: vmif\\.apply: lock dev--${TAP} is held by ${HOLDER_OWNER} \\(helper pid ${holderPid}, since ${ISO}\\); waited [23]\\.\\d s, up to this request's deadline, and changed nothing\\.`),
    );
    expect(err.message).toContain(`(kill ${holderPid})`);
    // The helper answered by the deadline: it was not given up on, nor restarted.
    expect(ms).toBeGreaterThanOrEqual(2500);
    expect(ms).toBeLessThan(3000 + 5000);
    expect(pool.stats(spec)).toMatchObject({ helperStarts: 1, retries: 0 });

    // Witnesses inside the host: no tap, no record of one, the holder's lock untouched.
    expect(links().map((l) => l.ifname)).not.toContain(TAP);
    expect(lab.hostExec(host.name, "sh", ["-c", "ls /run/hvnet/registry/vmif 2>/dev/null || true"]).trim()).toBe("");
    expect(JSON.parse(lab.hostExec(host.name, "cat", [LOCK]))).toMatchObject({ owner: HOLDER_OWNER, pid: holderPid });

    // The holder goes; the same create now goes through, and removing it leaves no lock file.
    await stop(holder);
    const made = await create("me/dev/VmInterface/vm0");
    expect(links().map((l) => l.ifname)).toContain(TAP);
    await deleteResource(pool, KINDS.VmInterface, made.id, made.outs);
    expect(links().map((l) => l.ifname)).not.toContain(TAP);
    expect(lab.hostExec(host.name, "sh", ["-c", "ls -A /run/hvnet/locks 2>/dev/null || true"]).trim()).toBe("");
  }, 60_000);
});

describe("end to end: pulumi up of the quickstart while another stack holds the uplink's lock", () => {
  const LOCK = "/run/hvnet/locks/dev--uplink0.lock"; // XdpProgram on uplink0 (resources/xdp.ts deviceLock)
  const HOLDER_OWNER = "other-project/prod/XdpProgram/uplink";
  let lab: Lab;
  let project: ExampleProject;
  let holder: ChildProcess | undefined;
  const { made } = exampleSuite("quickstart", 1, (l, p) => {
    lab = l;
    project = p;
  });

  afterAll(async () => {
    if (holder) await stop(holder);
  });

  test("up fails within the bounded wait naming the holder, makes no XDP attachment, and succeeds once the holder is gone", async () => {
    const stack = "locked";
    made.push(stack);
    await project.newStack(stack, { "hvnet:inventory": path.join(lab.dir, "inventory.json") });
    const host = lab.inventory.hosts[0];
    holder = await holdLock(lab, host, LOCK, HOLDER_OWNER);

    const t0 = Date.now();
    const r = await project.pulumi(["up", "--yes", "--skip-preview", "--stack", stack], { env: { HVNET_REQUEST_TIMEOUT: "5" }, timeoutMs: 300_000 });
    const ms = Date.now() - t0;
    console.log(`lock held: pulumi up failed after ${ms} ms:\n${r.output.split("\n").filter((l) => l.includes("is held by")).join("\n")}`);
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(
      new RegExp(`${host.name}: xdp\\.apply: lock dev--uplink0 is held by ${HOLDER_OWNER} \\(helper pid ${holder.pid}, since ${ISO}\\); waited [45]\\.\\d s`),
    );
    expect(r.output).toContain(`kill ${holder.pid}`);
    // The lock's object was left alone: no XDP program on the uplink, no pinned link.
    const [uplink] = JSON.parse(lab.hostExec(host.name, "ip", ["-j", "link", "show", "dev", "uplink0"]));
    expect(uplink.xdp).toBeUndefined();
    expect(lab.hostExec(host.name, "sh", ["-c", "ls /sys/fs/bpf/hvnet/xdp 2>/dev/null || true"]).trim()).toBe("");

    await stop(holder);
    const again = await project.pulumi(["up", "--yes", "--skip-preview", "--stack", stack]);
    if (again.code !== 0) throw new Error(`pulumi up after the holder left exited ${again.code}:\n${again.output}`);
    const [after] = JSON.parse(lab.hostExec(host.name, "ip", ["-j", "link", "show", "dev", "uplink0"]));
    expect(after.xdp).toBeDefined();
  }, 10 * 60_000);
});
