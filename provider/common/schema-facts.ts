// Generated from schema.json by scripts/gen-sdk.js (see scripts/schema-facts.js). Do not edit.
// What schema.json declares, for the code on both sides of the SSH boundary: the provider
// decides replace or update, the SDK and the helper refuse unknown fields, from these.
import type { ResourceFacts } from "./resource-facts";

/** How to reach one hypervisor over SSH. */
export interface Host {
  /** IP address or DNS name of the host. */
  address: string;
  /** SSH port (default 22). */
  port?: number;
  /** SSH user (default root). Any other user runs the helper with `sudo -n`. */
  user?: string;
  /** Private key (OpenSSH or PEM text) for public-key authentication. Secret. */
  privateKey?: string;
  /** Path of an ssh-agent socket to authenticate with instead of privateKey. */
  agentSocket?: string;
  /** The host's key: a `SHA256:...` fingerprint or an OpenSSH public key line. Connecting to a host whose key differs fails. Required unless insecureIgnoreHostKey is true. */
  hostKey?: string;
  /** Skip host-key verification. Must be said explicitly; never on production hosts. */
  insecureIgnoreHostKey?: boolean;
  /** Bastion to connect through (same shape). */
  jumpHost?: Host;
  /** The host's identity in resource ids and in the provider's connection pool (default: address). */
  name?: string;
}

/** The Host type's fields. */
export const HOST_FIELDS: readonly string[] = ["address", "port", "user", "privateKey", "agentSocket", "hostKey", "insecureIgnoreHostKey", "jumpHost", "name"];

export type TypeName = "RssContext" | "NetkitLower" | "XdpProgram" | "FdbEntry" | "FdbTable" | "VmInterface";

export const RESOURCE_FACTS: Record<TypeName, ResourceFacts> = {
  RssContext: {
    inputs: ["host", "device", "queues", "flows", "hashKey", "hashFunction", "shrinkDefault", "contextId", "adopt"],
    plainInputs: ["device", "hashKey", "hashFunction", "shrinkDefault", "contextId", "adopt"],
    replaceOn: ["device"],
    deleteBeforeReplace: false,
    outputs: ["contextId", "ruleIds", "indirectionTable"],
    outputsAlsoInputs: [],
    creationOnly: ["adopt"],
    identityFields: ["device", "contextId"],
    identityOutputs: ["contextId"],
  },
  NetkitLower: {
    inputs: ["host", "name", "lowerDevice", "queues", "mode", "netns", "policy", "headroom", "tailroom", "api", "adopt"],
    plainInputs: ["name", "lowerDevice", "mode", "netns", "policy", "headroom", "tailroom", "api", "adopt"],
    replaceOn: ["name", "lowerDevice", "queues", "mode", "netns", "headroom", "tailroom"],
    deleteBeforeReplace: true,
    outputs: ["ifindex", "leases", "api", "qemuNetdev"],
    outputsAlsoInputs: [],
    creationOnly: ["adopt"],
    identityFields: ["name", "netns"],
    identityOutputs: [],
  },
  XdpProgram: {
    inputs: ["host", "device", "program", "mode", "netns", "pinDir", "adopt"],
    plainInputs: ["device", "mode", "netns", "pinDir", "adopt"],
    replaceOn: ["device", "mode", "netns", "pinDir"],
    deleteBeforeReplace: true,
    outputs: ["programId", "programTag", "linkId", "linkPin", "maps", "attachMode"],
    outputsAlsoInputs: [],
    creationOnly: ["adopt"],
    identityFields: ["device", "netns", "pinDir"],
    identityOutputs: [],
  },
  FdbEntry: {
    inputs: ["host", "table", "vlan", "mac", "device", "ingressAcl", "adopt"],
    plainInputs: ["table", "vlan", "mac", "device", "adopt"],
    replaceOn: ["table", "vlan", "mac"],
    deleteBeforeReplace: false,
    outputs: ["ifindex"],
    outputsAlsoInputs: [],
    creationOnly: ["adopt"],
    identityFields: ["table", "vlan", "mac"],
    identityOutputs: [],
  },
  FdbTable: {
    inputs: ["host", "table", "entries", "adopt"],
    plainInputs: ["table", "adopt"],
    replaceOn: ["table"],
    deleteBeforeReplace: false,
    outputs: ["count", "entries"],
    outputsAlsoInputs: ["entries"],
    creationOnly: ["adopt"],
    identityFields: ["table"],
    identityOutputs: [],
  },
  VmInterface: {
    inputs: ["host", "name", "vcpus", "queues", "mac", "vlan", "addresses", "owner", "mtu", "offloads", "uplink", "egress", "netns", "adopt"],
    plainInputs: ["name", "vcpus", "queues", "mac", "vlan", "mtu", "offloads", "uplink", "netns", "adopt"],
    replaceOn: ["name", "queues", "netns"],
    deleteBeforeReplace: true,
    outputs: ["ifindex", "queues", "qemuArgs", "libvirtXml"],
    outputsAlsoInputs: ["queues"],
    creationOnly: ["adopt"],
    identityFields: ["name", "netns"],
    identityOutputs: [],
  },
};
