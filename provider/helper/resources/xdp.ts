// XdpProgram: xdp.apply / xdp.show / xdp.remove.
import { InputReader } from "../../common/validate/reader";
import { inNetns } from "../kernel/netns";
import { deviceLock, withRt } from "./device";
import { withLock } from "../state/lock";
import { readRecord, writeRecord, deleteRecord } from "../state/registry";
import { claimAndMake, ownerStore, releaseAndRemove } from "../state/ownership";
import { Ownership, readOwnership } from "../../common/args/common";
import { readXdpArgs, XdpArgs, defaultPinDir } from "../../common/args/xdp";
import { attach, describe, detach, mapsDirOf } from "./xdp-attachment";
import { forgetTableOwners } from "./fdb-owners";

/** What the kernel cannot tell: the netns and the program the user asked for. */
export interface XdpRecord {
  device: string;
  netns?: string;
  program: XdpArgs["program"];
  mode: XdpArgs["mode"];
}

export const XDP_RECORDS = "xdp";
const owners = ownerStore(XDP_RECORDS);

export function applyXdp(raw: unknown) {
  const args = readXdpArgs(InputReader.of(raw));
  return withLock(deviceLock(args.netns, args.device), () =>
    withRt(args.netns, (rt) => {
      const exists = describe(args.pinDir, rt) !== undefined;
      const what = `the XDP attachment of ${args.device} pinned at ${args.pinDir}`;
      // A converge or a take-over swaps the program on the link that is there.
      const { state } = claimAndMake(owners, args.pinDir, what, exists, args, (claim) => attach({ ...args, adopt: claim !== "create" }, rt), () =>
        describe(args.pinDir, rt) !== undefined,
      );
      const record: XdpRecord = { device: args.device, program: args.program, mode: args.mode };
      if (args.netns) record.netns = args.netns;
      writeRecord(XDP_RECORDS, args.pinDir, record);
      return { ...state, program: args.program };
    }),
  );
}

function readIdentity(raw: unknown): { device: string; netns?: string; pinDir: string; who: Ownership } {
  const r = InputReader.of(raw);
  const device = r.ifname("device")!;
  const netns = r.netns("netns");
  const pinDir = r.bpffsPath("pinDir", { optional: true });
  const who = readOwnership(r);
  r.finish();
  return { device, netns, pinDir: pinDir ?? defaultPinDir(device, netns), who };
}

export function showXdp(raw: unknown) {
  const id = readIdentity(raw);
  return withRt(id.netns, (rt) => {
    const state = describe(id.pinDir, rt);
    if (!state) return null;
    const record = readRecord<XdpRecord>(XDP_RECORDS, id.pinDir);
    const out: Record<string, unknown> = { ...state, pinDir: id.pinDir };
    if (record) {
      out.program = record.program;
      out.mode = record.mode;
    }
    if (id.netns) out.netns = id.netns;
    return out;
  });
}

export function removeXdp(raw: unknown) {
  const id = readIdentity(raw);
  return withLock(deviceLock(id.netns, id.device), () =>
    releaseAndRemove(owners, id.pinDir, id.who, () => {
      const existed = inNetns(id.netns, () => detach(id.pinDir));
      deleteRecord(XDP_RECORDS, id.pinDir);
      // The FDB map went with the pins: its entries' owner records must not outlive it.
      forgetTableOwners(`${mapsDirOf(id.pinDir)}/fdb`);
      return { removed: existed };
    }),
  );
}
