// Parallel jest workers share one kernel: a lab being made while another worker's scratch
// namespaces come and go must neither fail nor keep those namespaces alive (CI once failed
// with `umount: /run/netns/hvt-ops-…: no mount point specified` from lab.sh up). The kernel is
// the judge: real `ip netns` namespaces, a real `scripts/lab.sh up`, and a veth whose
// root-side end only disappears once its namespace is really freed.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { labUp, type Lab } from "../support/lab";
import { requireRoot } from "../support/require-root";
import { createScratchNetns, type ScratchNetns } from "../support/scratch-netns";

jest.setTimeout(5 * 60_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits up to 10 s for a root-namespace link to go; removes it if it stays. */
async function gone(link: string): Promise<boolean> {
  const deadline = Date.now() + 10_000;
  while (existsSync(`/sys/class/net/${link}`) && Date.now() < deadline) await sleep(100);
  if (!existsSync(`/sys/class/net/${link}`)) return true;
  execFileSync("ip", ["link", "del", link]);
  return false;
}

let labs: Lab[] = [];
let scratch: ScratchNetns[] = [];

beforeAll(() => requireRoot());

afterEach(() => {
  for (const ns of scratch.splice(0)) ns.remove();
  const problems: string[] = [];
  for (const lab of labs.splice(0)) {
    try {
      lab.down();
    } catch (err) {
      problems.push(String(err));
    }
  }
  if (problems.length) throw new Error(`cleanup: ${problems.join("\n")}`);
});

test("lab up succeeds while another worker deletes its scratch namespaces under it", async () => {
  // Each round deletes 120 namespaces while a 2-host lab is being made, starting at a
  // different moment, so the deletions overlap each host's mount-namespace setup (which
  // starts from a copy of every /run/netns binding on the machine).
  for (const startMs of [150, 400, 700]) {
    scratch = Array.from({ length: 120 }, () => createScratchNetns("iso"));
    // The root end of this pair vanishes only once the namespace holding its peer is
    // freed: a lab host that kept a copy of the binding would keep it alive.
    const rootEnd = `${scratch[0].name.slice(-6)}r`;
    execFileSync("ip", ["link", "add", rootEnd, "type", "veth", "peer", "name", "inner", "netns", scratch[0].name]);
    const up = labUp({ hosts: 2 }).then((lab) => {
      labs.push(lab);
      return lab;
    });
    await sleep(startMs);
    for (const ns of scratch.splice(0)) ns.remove();
    const lab = await up; // rejects with lab.sh's stderr when up failed
    expect(lab.hostExec("hv2", "ip", ["-br", "link", "show", "dev", "uplink0"])).toMatch(/^uplink0@/);
    expect(await gone(rootEnd)).toBe(true);
    lab.down();
    labs = labs.filter((l) => l !== lab);
  }
});
