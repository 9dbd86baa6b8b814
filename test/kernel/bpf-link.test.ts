// BpfLink against the real kernel: XDP attached through a pinned bpf_link on a veth in a
// scratch namespace, swapped in place, guarded by BPF_F_REPLACE, owning the hook against
// netlink attach, surviving its creator's fds, and detached. Witnesses: ip -j -d link,
// bpftool -j link.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BpfObject } from "../../provider/helper/kernel/bpf/object";
import { BpfLink, LinkType } from "../../provider/helper/kernel/bpf/link";
import { removePin } from "../../provider/helper/kernel/bpf/pin";
import { inNetns } from "../../provider/helper/kernel/netns";
import { KernelError } from "../../provider/helper/kernel/errors";
import { requireCommand, requireRoot } from "../support/require-root";
import { createScratchNetns, ScratchNetns } from "../support/scratch-netns";
import { buildFixture } from "../fixtures/bpf/build";
import { bpftoolHas, bpftoolJson, ipXdpMode, ipXdpProgId, mountTestBpffs, TestBpffs, vethPair } from "../fixtures/bpf/support";
import { thrown } from "../support/thrown";


/** ip -d link "xdp.mode": XDP_ATTACHED_DRV = 1, XDP_ATTACHED_SKB = 2 (if_link.h). */
const ATTACHED_DRV = 1;
const ATTACHED_SKB = 2;

describe("BpfLink XDP (real kernel)", () => {
  let fs: TestBpffs | undefined;
  let ns: ScratchNetns | undefined;
  let obj: BpfObject | undefined;
  const links: BpfLink[] = [];
  const tmpDirs: string[] = [];
  let pinSeq = 0;
  const pins: string[] = [];
  /** A fresh pin path inside the test bpffs, removed after the test. */
  function pinPath(name: string): string {
    const p = join(fs!.root, "hvnet", `t${++pinSeq}`, name);
    pins.push(p);
    return p;
  }

  beforeAll(() => {
    requireRoot();
    requireCommand("bpftool");
    fs = mountTestBpffs();
  });
  beforeEach(() => {
    obj = BpfObject.open(buildFixture("xdp_test"));
    obj.load();
  });
  afterEach(() => {
    for (const p of pins.splice(0)) removePin(p);
    for (const l of links.splice(0)) l.close();
    obj?.close();
    obj = undefined;
    ns?.remove(); // deleting the veths ends any attachment left behind
    ns = undefined;
    for (const d of tmpDirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  afterAll(() => fs?.cleanup());

  function setup(): { a: number; b: number } {
    ns = createScratchNetns("bpflink");
    return vethPair(ns, "xa", "xb");
  }

  test("native attach through a pinned link: ip and bpftool see the program on the device", () => {
    const idx = setup();
    const pass = obj!.program("xdp_pass_count");
    const link = inNetns(ns!.name, () => BpfLink.attachXdp(pass, idx.a, "native"));
    links.push(link);
    const pin = pinPath("link");
    link.pin(pin);

    const info = link.info();
    expect(info).toEqual({ id: info.id, type: LinkType.XDP, progId: pass.info().id, xdp: { ifindex: idx.a } });
    expect(ipXdpProgId(ns!, "xa")).toBe(pass.info().id);
    expect(ipXdpMode(ns!, "xa")).toBe(ATTACHED_DRV);
    // bpftool 7.1 prints no ifindex for XDP links; ip above witnesses the device.
    const shown = bpftoolJson<{ id: number; type: string; prog_id: number }>("link", "show", "id", String(info.id));
    expect(shown).toMatchObject({ id: info.id, type: "xdp", prog_id: pass.info().id });
    expect(ipXdpProgId(ns!, "xb")).toBeUndefined();
  });

  test("skb mode attaches generic XDP", () => {
    const idx = setup();
    const link = inNetns(ns!.name, () => BpfLink.attachXdp(obj!.program("xdp_drop_count"), idx.b, "skb"));
    links.push(link);
    expect(ipXdpMode(ns!, "xb")).toBe(ATTACHED_SKB);
    expect(ipXdpProgId(ns!, "xb")).toBe(obj!.program("xdp_drop_count").info().id);
  });

  test("in-place update: same link id, new program id, and never a moment without a program", async () => {
    const idx = setup();
    const pass = obj!.program("xdp_pass_count");
    const drop = obj!.program("xdp_drop_count");
    const link = inNetns(ns!.name, () => BpfLink.attachXdp(pass, idx.a, "native"));
    links.push(link);
    const linkId = link.info().id;

    // An independent sampler polls the device while this thread swaps the program back and
    // forth as fast as it can; every sample must show one of the two programs.
    const dir = mkdtempSync(join(tmpdir(), "hvt-xdp-sampler-"));
    tmpDirs.push(dir);
    const samples = join(dir, "samples");
    const done = join(dir, "done");
    const script =
      'i=0; while [ $i -lt 80 ]; do ip -j -d -n "$1" link show dev xa >>"$2"; echo >>"$2"; i=$((i+1)); done; touch "$3"';
    const sampler = spawn("sh", ["-c", script, "sh", ns!.name, samples, done], { stdio: "ignore" });
    const exited = new Promise<number | null>((resolve) => sampler.on("exit", (code) => resolve(code)));
    let swaps = 0;
    const deadline = Date.now() + 30000;
    while (!existsSync(done) && Date.now() < deadline) {
      link.update(swaps % 2 === 0 ? drop : pass);
      swaps++;
    }
    expect(await exited).toBe(0);

    const seen = new Set<number | undefined>();
    for (const chunk of readFileSync(samples, "utf8").split("\n")) {
      if (chunk.trim() === "") continue;
      const [l] = JSON.parse(chunk) as Array<{ xdp?: { prog?: { id: number } } }>;
      seen.add(l.xdp?.prog?.id);
    }
    expect(seen.has(undefined)).toBe(false);
    expect([...seen].every((id) => id === pass.info().id || id === drop.info().id)).toBe(true);
    expect(seen.size).toBe(2); // the sampler really overlapped the swaps
    expect(swaps).toBeGreaterThan(80);

    link.update(drop);
    const after = link.info();
    expect(after.id).toBe(linkId);
    expect(after.progId).toBe(drop.info().id);
    expect(ipXdpProgId(ns!, "xa")).toBe(drop.info().id);
    expect(bpftoolJson<{ prog_id: number }>("link", "show", "id", String(linkId)).prog_id).toBe(drop.info().id);
  });

  test("BPF_F_REPLACE: a wrong old program is EPERM and changes nothing; the right one swaps", () => {
    const idx = setup();
    const pass = obj!.program("xdp_pass_count");
    const drop = obj!.program("xdp_drop_count");
    const swap = obj!.program("xdp_swap_tx");
    const link = inNetns(ns!.name, () => BpfLink.attachXdp(pass, idx.a, "native"));
    links.push(link);
    const err = thrown(() => link.update(swap, { oldProg: drop }));
    expect(err).toBeInstanceOf(KernelError);
    expect((err as KernelError).code).toBe("EPERM");
    expect(ipXdpProgId(ns!, "xa")).toBe(pass.info().id);
    link.update(swap, { oldProg: pass });
    expect(ipXdpProgId(ns!, "xa")).toBe(swap.info().id);
  });

  test("while a link owns the hook, netlink attach (ip link set xdp) fails with EBUSY", () => {
    const idx = setup();
    const only = buildFixture("xdp_pass_only");
    // Control: the same command works on a device without a link.
    const ok = spawnSync("ip", ["-n", ns!.name, "link", "set", "dev", "xb", "xdp", "obj", only, "sec", "xdp"], { encoding: "utf8" });
    expect(ok.status).toBe(0);
    ns!.ip("link", "set", "dev", "xb", "xdp", "off");

    const pass = obj!.program("xdp_pass_count");
    links.push(inNetns(ns!.name, () => BpfLink.attachXdp(pass, idx.a, "native")));
    const busy = spawnSync("ip", ["-n", ns!.name, "link", "set", "dev", "xa", "xdp", "obj", only, "sec", "xdp"], { encoding: "utf8" });
    expect(busy.status).not.toBe(0);
    expect(busy.stderr).toMatch(/Device or resource busy|Can.t replace active BPF XDP link/);
    const off = spawnSync("ip", ["-n", ns!.name, "link", "set", "dev", "xa", "xdp", "off"], { encoding: "utf8" });
    expect(off.status).not.toBe(0);
    expect(ipXdpProgId(ns!, "xa")).toBe(pass.info().id);
  });

  test("the pin keeps it attached after every fd is closed; unpin + close detaches", () => {
    const idx = setup();
    const pass = obj!.program("xdp_pass_count");
    const progId = pass.info().id;
    const pin = pinPath("link");
    const link = inNetns(ns!.name, () => BpfLink.attachXdp(pass, idx.a, "native"));
    link.pin(pin);
    const linkId = link.info().id;
    link.close();
    obj!.close();
    obj = undefined;
    expect(ipXdpProgId(ns!, "xa")).toBe(progId);
    expect(bpftoolHas("link", linkId)).toBe(true);

    const reopened = BpfLink.fromPin(pin);
    links.push(reopened);
    expect(reopened.info()).toEqual({ id: linkId, type: LinkType.XDP, progId, xdp: { ifindex: idx.a } });
    expect(reopened.unpin()).toBe(true);
    expect(existsSync(pin)).toBe(false);
    expect(ipXdpProgId(ns!, "xa")).toBe(progId); // the fd still holds it
    reopened.close();
    expect(ipXdpProgId(ns!, "xa")).toBeUndefined();
    expect(bpftoolHas("link", linkId)).toBe(false);
    expect(bpftoolHas("prog", progId)).toBe(false);
    expect(thrown(() => BpfLink.fromPin(pin))).toMatchObject({ code: "ENOENT" });
  });

  test("fromId and detach(): the hook is released at once, the defunct link stays until closed", () => {
    const idx = setup();
    const link = inNetns(ns!.name, () => BpfLink.attachXdp(obj!.program("xdp_pass_count"), idx.b, "native"));
    links.push(link);
    const byId = BpfLink.fromId(link.info().id);
    links.push(byId);
    expect(byId.info().xdp).toEqual({ ifindex: idx.b });
    byId.detach();
    expect(ipXdpProgId(ns!, "xb")).toBeUndefined();
    const defunct = link.info();
    expect(defunct.type).toBe(LinkType.XDP);
    expect(defunct.xdp).toEqual({ ifindex: 0 });
    // With the hook free, another attach works.
    links.push(inNetns(ns!.name, () => BpfLink.attachXdp(obj!.program("xdp_drop_count"), idx.b, "native")));
    expect(ipXdpProgId(ns!, "xb")).toBe(obj!.program("xdp_drop_count").info().id);
  });

  test("a map pin opened as a link is refused", () => {
    const pin = pinPath("notalink");
    obj!.map("tiny").pin(pin);
    expect(thrown(() => BpfLink.fromPin(pin))).toMatchObject({ code: "EINVAL" });
  });
});
