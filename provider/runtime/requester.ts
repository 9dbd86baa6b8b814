// The runtime's one dependency on the transport: send an op to a host's helper.
import { HostSpec } from "../transport/host-spec";

export interface HostRequester {
  request(host: HostSpec, op: string, args: unknown): Promise<any>;
}
