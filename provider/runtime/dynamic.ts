// The runtime behind the dynamic-provider shims of sdk/: one function per CRUD method,
// taking the resource's type name. It lives in the installed package, so the shim Pulumi
// serializes into each resource's state stays a few lines that `require()` this module.
import { KINDS, ResourceKind } from "../resources";
import { checkInputs, requireValidInputs } from "./check";
import { diffInputs } from "./diff";
import { createResource, readResource, updateResource, deleteResource } from "./operations";
import { sharedPool } from "./pool";
import { ConfigSource, configureHosts, currentConnection } from "./host-config";
import { HostSpec } from "../transport/host-spec";

type Props = Record<string, any>;

function kindOf(typeName: string): ResourceKind {
  const kind = KINDS[typeName];
  if (!kind) throw new Error(`unknown hvnet resource type ${typeName}`);
  return kind;
}

export async function check(typeName: string, _olds: Props, news: Props) {
  return checkInputs(kindOf(typeName), news);
}

export async function diff(typeName: string, _id: string, olds: Props, news: Props) {
  return diffInputs(kindOf(typeName), olds, news);
}

export async function create(typeName: string, inputs: Props) {
  // Pulumi checks before it creates; checking again costs nothing and keeps bad input
  // from ever reaching a host, whoever calls this.
  const kind = kindOf(typeName);
  return createResource(sharedPool(), kind, requireValidInputs(kind, inputs));
}

export function configure(config: ConfigSource): void {
  configureHosts(config);
}

/** props with the host's current connection (see host-config.ts), or props as they are. */
function withCurrentHost(props: Props): Props {
  if (!props?.host) return props;
  const host = currentConnection(props.host as HostSpec);
  return host === props.host ? props : { ...props, host };
}

export async function read(typeName: string, id: string, props: Props) {
  const recorded = props ?? {};
  const result = await readResource(sharedPool(), kindOf(typeName), id, withCurrentHost(recorded));
  // The state keeps the connection the program gave; refresh only reads through the current one.
  if (recorded.host && result.props.host) result.props.host = recorded.host;
  return result;
}

export async function update(typeName: string, id: string, olds: Props, news: Props) {
  const kind = kindOf(typeName);
  return updateResource(sharedPool(), kind, id, olds, requireValidInputs(kind, news));
}

export async function remove(typeName: string, id: string, props: Props) {
  return deleteResource(sharedPool(), kindOf(typeName), id, withCurrentHost(props));
}
