import { ResourceKind, keyOf, partsOf } from "./kind";
import { RssArgs, readRssArgs } from "../common/args/rss";

export const rssContext: ResourceKind<RssArgs> = {
  kind: "rss",
  typeName: "RssContext",
  readArgs: readRssArgs,
  objectKey: (a, out) => keyOf(a.device, out.contextId as number),
  parseKey: (key) => {
    const [device, contextId] = partsOf(key);
    return { device, contextId: Number(contextId) };
  },
  identity: (a, out) => ({ device: a.device, contextId: out.contextId }),
  replaceOn: ["device"],
  deleteBeforeReplace: false,
  outputs: ["contextId", "ruleIds", "indirectionTable"],
};
