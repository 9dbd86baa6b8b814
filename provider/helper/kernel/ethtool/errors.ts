// Errors of the ethtool layer. The ioctl boundary (real socket or test double) throws
// EthtoolError; the high-level modules turn the errnos that have a known meaning into
// classes that name the device and driver, so the provider can say "driver veth has no
// RSS" rather than "EOPNOTSUPP".
import { KernelError } from "../errors";
import { errnoNumber } from "../internal/errno";
import { commandName } from "./structs";

/** A failed SIOCETHTOOL ioctl: which command, on which device, and the errno. */
export class EthtoolError extends KernelError {
  readonly cmd: number;
  readonly ifname: string;

  constructor(cmd: number, ifname: string, errno: number) {
    super(`SIOCETHTOOL ${commandName(cmd)}`, errno, undefined, ifname);
    this.name = "EthtoolError";
    this.cmd = cmd;
    this.ifname = ifname;
  }

  /** Test doubles raise errors by name: `EthtoolError.of(cmd, "eth0", "EBUSY")`. */
  static of(cmd: number, ifname: string, code: string): EthtoolError {
    return new EthtoolError(cmd, ifname, errnoNumber(code));
  }
}

/** Base of the classified errors: keeps the device, driver and the ioctl error behind it. */
export class EthtoolOperationError extends Error {
  readonly ifname: string;
  readonly driver?: string;
  override readonly cause?: EthtoolError;

  constructor(message: string, ifname: string, driver: string | undefined, cause?: EthtoolError) {
    super(cause ? `${message} (${cause.message})` : message);
    this.name = "EthtoolOperationError";
    this.ifname = ifname;
    this.driver = driver;
    this.cause = cause;
  }

  /** The errno name behind it, so the helper's error body carries a stable code. */
  get code(): string {
    return this.cause?.code ?? "EOPNOTSUPP";
  }
}

/** The driver implements no RSS at all (no ETHTOOL_GRSSH). */
export class RssUnsupportedError extends EthtoolOperationError {
  constructor(ifname: string, driver: string | undefined, cause?: EthtoolError) {
    super(`driver ${driver ?? "(unknown)"} of ${ifname} has no RSS`, ifname, driver, cause);
    this.name = "RssUnsupportedError";
  }
}

/** RSS works but the driver offers no additional contexts. */
export class RssContextsUnsupportedError extends EthtoolOperationError {
  constructor(ifname: string, driver: string | undefined, cause?: EthtoolError) {
    super(`driver ${driver ?? "(unknown)"} of ${ifname} has no additional RSS contexts`, ifname, driver, cause);
    this.name = "RssContextsUnsupportedError";
  }
}

/** The context is still the target of ntuple rules (refused since Linux 6.13). */
export class RssContextBusyError extends EthtoolOperationError {
  readonly context: number;
  constructor(ifname: string, driver: string | undefined, context: number, cause?: EthtoolError) {
    super(`RSS context ${context} on ${ifname} is still used by ntuple rules`, ifname, driver, cause);
    this.name = "RssContextBusyError";
    this.context = context;
  }
}

/** The context id is not (or no longer) known to the NIC: drift, e.g. after a reboot. */
export class RssContextNotFoundError extends EthtoolOperationError {
  readonly context: number;
  constructor(ifname: string, driver: string | undefined, context: number, cause?: EthtoolError) {
    super(`RSS context ${context} does not exist on ${ifname}`, ifname, driver, cause);
    this.name = "RssContextNotFoundError";
    this.context = context;
  }
}

/** The driver has no ntuple (n-tuple / RX classification) filters. */
export class NtupleUnsupportedError extends EthtoolOperationError {
  constructor(ifname: string, driver: string | undefined, cause?: EthtoolError) {
    super(`driver ${driver ?? "(unknown)"} of ${ifname} has no ntuple filters`, ifname, driver, cause);
    this.name = "NtupleUnsupportedError";
  }
}

/** The driver cannot report or change its channel counts. */
export class ChannelsUnsupportedError extends EthtoolOperationError {
  constructor(ifname: string, driver: string | undefined, cause?: EthtoolError) {
    super(`driver ${driver ?? "(unknown)"} of ${ifname} cannot get or set channels`, ifname, driver, cause);
    this.name = "ChannelsUnsupportedError";
  }
}
