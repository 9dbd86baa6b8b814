import { ResourceKind, keyOf, partsOf } from "./kind";
import { XdpArgs, readXdpArgs, defaultPinDir } from "../common/args/xdp";

export const xdpProgram: ResourceKind<XdpArgs> = {
  kind: "xdp",
  typeName: "XdpProgram",
  readArgs: readXdpArgs,
  objectKey: (a) => keyOf(a.netns ?? "", a.device, a.pinDir === defaultPinDir(a.device, a.netns) ? "" : a.pinDir),
  parseKey: (key) => {
    const [netns, device, pinDir] = partsOf(key);
    const id: Record<string, unknown> = { device, pinDir: pinDir || defaultPinDir(device, netns || undefined) };
    if (netns) id.netns = netns;
    return id;
  },
  identity: (a) => (a.netns ? { device: a.device, netns: a.netns, pinDir: a.pinDir } : { device: a.device, pinDir: a.pinDir }),
  // One XDP link per device hook: the old one must be gone before a new one attaches.
  replaceOn: ["device", "mode", "netns", "pinDir"],
  deleteBeforeReplace: true,
  outputs: ["programId", "programTag", "linkId", "linkPin", "maps", "attachMode"],
};
