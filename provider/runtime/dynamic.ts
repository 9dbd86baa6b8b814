// The runtime behind the dynamic-provider shims of sdk/: one function per CRUD method,
// taking the resource's type name. It lives in the installed package, so the shim Pulumi
// serializes into each resource's state stays a few lines that `require()` this module.
import { KINDS, ResourceKind } from "../resources";
import { checkInputs, requireValidInputs } from "./check";
import { diffInputs } from "./diff";
import { createResource, readResource, updateResource, deleteResource, PartialCreateError } from "./operations";
import { sharedPool } from "./pool";
import { ConfigSource, configureHosts, currentConnection } from "./host-config";
import { HostSpec, hostIdentity, withDefaults } from "../transport/host-spec";
import { sameValue } from "./values";

type Props = Record<string, any>;

function kindOf(typeName: string): ResourceKind {
  const kind = KINDS[typeName];
  if (!kind) throw new Error(`unknown hvnet resource type ${typeName}`);
  return kind;
}

export async function check(typeName: string, _olds: Props, news: Props) {
  const result = checkInputs(kindOf(typeName), news);
  if (result.failures.length === 0) result.inputs = withoutSuppliedCredentials(result.inputs);
  return result;
}

const hasCredentials = (h: HostSpec) => h.privateKey !== undefined || h.agentSocket !== undefined;

function withoutCredentials(h: HostSpec): HostSpec {
  const { privateKey: _k, agentSocket: _a, ...rest } = h;
  return rest.jumpHost ? { ...rest, jumpHost: withoutCredentials(rest.jumpHost) } : rest;
}

/**
 * The state keeps a host's credentials only when nothing else can give them back: a host
 * the stack config `hosts` (or the lab inventory) gives exactly as the program does is
 * kept without its private keys, and every operation takes them from the config of its
 * run (as refresh and destroy already take a rotated host key). A private key is the
 * largest part of a resource's state (about 400 bytes for ed25519, 2.5 KB for RSA, secret
 * ciphertext in its inputs and again in its outputs), and a key kept nowhere but the
 * config leaves with a rotation instead of staying behind in every checkpoint.
 */
function withoutSuppliedCredentials(inputs: Props): Props {
  const host = inputs.host as HostSpec | undefined;
  if (!host || typeof host !== "object" || !hasCredentials(host)) return inputs;
  const current = currentConnection(host);
  if (current === host || !sameValue(withDefaults(current), withDefaults(host))) return inputs;
  return { ...inputs, host: withoutCredentials(host) };
}

/**
 * props with the credentials of a host the state keeps none for, from the current stack
 * config; one with credentials of its own is left as the program gave it.
 */
function withCredentials(typeName: string, what: string, props: Props): Props {
  const host = props?.host as HostSpec | undefined;
  if (!host || typeof host !== "object" || hasCredentials(host)) return props;
  const current = currentConnection(host);
  if (!hasCredentials(current)) {
    const name = hostIdentity(host);
    throw new Error(
      `hvnet ${typeName} ${what}: host "${name}" came from the stack config \`hosts\` (or the lab inventory), so the state keeps ` +
        `no private key for it, and the current config has no host "${name}": add "${name}" back to config \`hosts\` ` +
        `(or point hvnet:inventory at an inventory that has it) and run the command again`,
    );
  }
  return { ...props, host: current };
}

export async function diff(typeName: string, _id: string, olds: Props, news: Props) {
  return diffInputs(kindOf(typeName), olds, news);
}

export async function create(typeName: string, inputs: Props) {
  // Pulumi checks before it creates; checking again costs nothing and keeps bad input
  // from ever reaching a host, whoever calls this.
  const kind = kindOf(typeName);
  const recorded = inputs?.host;
  try {
    const result = await createResource(sharedPool(), kind, requireValidInputs(kind, withCredentials(typeName, "create", inputs)));
    return { ...result, outs: { ...result.outs, host: recorded } };
  } catch (err) {
    // What stayed behind is recorded as checked: without credentials from the config.
    if (err instanceof PartialCreateError) (err.properties as Props).host = recorded;
    throw err;
  }
}

export function configure(config: ConfigSource): void {
  configureHosts(config);
}

/** props with the host's current connection (see host-config.ts), or props as they are. */
function withCurrentHost(typeName: string, what: string, props: Props): Props {
  if (!props?.host) return props;
  const host = currentConnection(props.host as HostSpec);
  return withCredentials(typeName, what, host === props.host ? props : { ...props, host });
}

export async function read(typeName: string, id: string, props: Props) {
  const recorded = props ?? {};
  const result = await readResource(sharedPool(), kindOf(typeName), id, withCurrentHost(typeName, `read of ${id}`, recorded));
  // The state keeps the connection the program gave; refresh only reads through the current one.
  if (recorded.host && result.props.host) result.props.host = recorded.host;
  return result;
}

export async function update(typeName: string, id: string, olds: Props, news: Props) {
  const kind = kindOf(typeName);
  const result = await updateResource(sharedPool(), kind, id, olds, requireValidInputs(kind, withCredentials(typeName, `update of ${id}`, news)));
  return { outs: { ...result.outs, host: news?.host } };
}

export async function remove(typeName: string, id: string, props: Props) {
  return deleteResource(sharedPool(), kindOf(typeName), id, withCurrentHost(typeName, `delete of ${id}`, props));
}

const providers = new Map<string, object>();

/**
 * The provider object of one resource type, as the SDK's `__provider` module returns it
 * (sdk/shim.ts): the engine's dynamic-provider host calls these methods. One object per
 * type, so configure runs once per type and process, as with a serialized closure.
 */
export function provider(typeName: string): object {
  kindOf(typeName); // an unknown type fails here, naming it, not at the first call
  let p = providers.get(typeName);
  if (!p) {
    p = {
      // The stack config of the current run: refresh and destroy reach a host through its
      // current connection (a rotated host key) rather than the one recorded in the state.
      configure: async (req: { config: ConfigSource }) => configure(req.config),
      check: (olds: Props, news: Props) => check(typeName, olds, news),
      diff: (id: string, olds: Props, news: Props) => diff(typeName, id, olds, news),
      create: (inputs: Props) => create(typeName, inputs),
      read: (id: string, props: Props) => read(typeName, id, props),
      update: (id: string, olds: Props, news: Props) => update(typeName, id, olds, news),
      delete: (id: string, props: Props) => remove(typeName, id, props),
    };
    providers.set(typeName, p);
  }
  return p;
}
