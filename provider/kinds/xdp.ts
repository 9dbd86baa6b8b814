import { describeKind, keyOf, partsOf } from "./kind";
import { XdpArgs, readXdpArgs, defaultPinDir } from "../common/args/xdp";

export const xdpProgram = describeKind<XdpArgs>("XdpProgram", {
  kind: "xdp",
  readArgs: readXdpArgs,
  objectKey: (a) => keyOf(a.netns ?? "", a.device, a.pinDir === defaultPinDir(a.device, a.netns) ? "" : a.pinDir),
  parseKey: (key) => {
    const [netns, device, pinDir] = partsOf(key);
    const id: Record<string, unknown> = { device, pinDir: pinDir || defaultPinDir(device, netns || undefined) };
    if (netns) id.netns = netns;
    return id;
  },
});
