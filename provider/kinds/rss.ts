import { describeKind, keyOf, partsOf } from "./kind";
import { RssArgs, readRssArgs } from "../common/args/rss";

export const rssContext = describeKind<RssArgs>("RssContext", {
  kind: "rss",
  readArgs: readRssArgs,
  objectKey: (a, out) => keyOf(a.device, out.contextId as number),
  parseKey: (key) => {
    const [device, contextId] = partsOf(key);
    return { device, contextId: Number(contextId) };
  },
});
