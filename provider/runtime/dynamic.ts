// The runtime behind the dynamic provider of sdk/ (one object per resource type, see
// provider() below): one function per CRUD method, taking the resource's type name. It
// lives in the installed package, so what Pulumi stores with each resource stays one line.
//
// It also decides what of a host the state keeps. A host the stack config `hosts` (or the
// lab inventory) gives exactly as the program does is stored as a plain reference,
// `__host: {name, address, port?}`, and every operation takes the connection (host key,
// jump host, private key) from the config of its run, as refresh and destroy always took
// a rotated host key. Any other host is stored whole, a secret, because nothing else can
// give its keys back. Pulumi rewrites the whole checkpoint after every step, so each byte
// of a resource's state costs N times: the secret host (a private key is 400 bytes for
// ed25519, 2.5 KB for RSA, as ciphertext in the inputs and again in the outputs) was most
// of an FdbEntry's.
import { KINDS, ResourceKind } from "../kinds";
import { checkInputs, requireValidInputs } from "./check";
import { diffInputs } from "./diff";
import { createResource, readResource, updateResource, deleteResource, PartialCreateError } from "./operations";
import { closeSharedPool, sharedPool } from "./pool";
import { ConfigSource, configureHosts, currentConnection } from "./host-config";
import { DEFAULT_PORT, HostSpec, hostIdentity, withDefaults } from "../transport/host-spec";
import { sameValue } from "./values";

type Props = Record<string, any>;

/** Where the state keeps a host the config gives (see above). */
const HOST_REF = "__host";

function kindOf(typeName: string): ResourceKind {
  const kind = KINDS[typeName];
  if (!kind) throw new Error(`unknown hvnet resource type ${typeName}`);
  return kind;
}

const hasCredentials = (h: HostSpec) => h.privateKey !== undefined || h.agentSocket !== undefined;

/** The host's identity and the machine it names (a lab inventory found by the default path stands in only for the same machine: host-config.ts). */
function hostReference(h: HostSpec): HostSpec {
  const ref: HostSpec = { address: h.address };
  if (h.name !== undefined) ref.name = h.name;
  if (h.port !== undefined && h.port !== DEFAULT_PORT) ref.port = h.port;
  return ref;
}

/** Checked inputs as the state keeps them: a host the config gives as a reference, adopt only when true. */
function stored(inputs: Props): Props {
  const { adopt, host, ...rest } = inputs;
  // adopt: false is the default and matters only at creation: not worth keeping twice.
  const out: Props = adopt === false ? rest : { ...rest, adopt };
  if (host && typeof host === "object" && hasCredentials(host)) {
    const current = currentConnection(host);
    if (current !== host && sameValue(withDefaults(current), withDefaults(host))) return { ...out, [HOST_REF]: hostReference(host) };
  }
  return { ...out, host };
}

/** Stored props with `host` as the operations expect it: a reference stays one (no credentials). */
function withHostField(props: Props): Props {
  if (!props || props[HOST_REF] === undefined) return props;
  const { [HOST_REF]: ref, ...rest } = props;
  return { ...rest, host: ref };
}

/** Operation results back in stored form: the host as the state had it. */
function asStored(result: Props, recorded: Props): Props {
  const { host: _live, ...rest } = result;
  return recorded[HOST_REF] !== undefined ? { ...rest, [HOST_REF]: recorded[HOST_REF] } : { ...rest, host: recorded.host };
}

/**
 * props with a connection for the host: a host stored whole is used as it is (create,
 * update) or through its current connection of the same identity (read, delete: a rotated
 * host key); a reference only through the current config, which must still have it.
 */
function connected(typeName: string, what: string, stored: Props, current: boolean): Props {
  const props = withHostField(stored);
  const host = props?.host as HostSpec | undefined;
  if (!host || typeof host !== "object") return props;
  if (hasCredentials(host) && !current) return props;
  const live = currentConnection(host);
  if (!hasCredentials(live)) {
    const name = hostIdentity(host);
    throw new Error(
      `hvnet ${typeName} ${what}: host "${name}" came from the stack config \`hosts\` (or the lab inventory), so the state keeps ` +
        `no private key for it, and the config this run sees has no host "${name}": add "${name}" back to config \`hosts\` ` +
        `or to the inventory file hvnet:inventory names, and run the command again (refresh and destroy see the stack ` +
        `config of the last up unless given --run-program)`,
    );
  }
  return live === host ? props : { ...props, host: live };
}

export async function check(typeName: string, _olds: Props, news: Props) {
  const result = checkInputs(kindOf(typeName), news);
  if (result.failures.length === 0) result.inputs = stored(result.inputs);
  return result;
}

export async function diff(typeName: string, _id: string, olds: Props, news: Props) {
  return diffInputs(kindOf(typeName), withHostField(olds), withHostField(news));
}

export async function create(typeName: string, inputs: Props) {
  // Pulumi checks before it creates; checking again costs nothing and keeps bad input
  // from ever reaching a host, whoever calls this.
  const kind = kindOf(typeName);
  try {
    const result = await createResource(sharedPool(), kind, requireValidInputs(kind, connected(typeName, "create", inputs, false)));
    return { ...result, outs: asStored(result.outs, inputs) };
  } catch (err) {
    // What stayed behind is recorded in stored form too: no credentials from the config.
    if (err instanceof PartialCreateError) Object.assign(err, { properties: asStored(err.properties, inputs) });
    throw err;
  }
}

export function configure(config: ConfigSource): void {
  configureHosts(config);
}

export async function read(typeName: string, id: string, props: Props) {
  const recorded = props ?? {};
  const result = await readResource(sharedPool(), kindOf(typeName), id, connected(typeName, `read of ${id}`, recorded, true));
  // The state keeps the host as it was; refresh only reads through the current connection.
  if (result.props.host && (recorded.host || recorded[HOST_REF])) result.props = asStored(result.props, recorded);
  return result;
}

export async function update(typeName: string, id: string, olds: Props, news: Props) {
  const kind = kindOf(typeName);
  const live = requireValidInputs(kind, connected(typeName, `update of ${id}`, news, false));
  const result = await updateResource(sharedPool(), kind, id, withHostField(olds), live);
  return { outs: asStored(result.outs, news) };
}

export async function remove(typeName: string, id: string, props: Props) {
  return deleteResource(sharedPool(), kindOf(typeName), id, connected(typeName, `delete of ${id}`, props, true));
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

/** Asks a host's helper what the host can do, over the pooled connection the CRUD methods use. */
export function probe(host: HostSpec): Promise<unknown> {
  return sharedPool().request(host, "probe", {});
}

/** Closes every pooled connection (the program's capability checks are done). */
export function closeConnections(): Promise<void> {
  return closeSharedPool();
}
