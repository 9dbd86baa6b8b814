// ETHTOOL_GDRVINFO: the driver behind a device, used to name it in errors ("driver veth
// has no RSS") and to tell which NIC family a host has.
import { EthtoolDevice } from "./ioctl";
import { decodeDrvinfo, encodeDrvinfoRequest, EthtoolDrvinfo } from "./structs";

export type { EthtoolDrvinfo } from "./structs";

export function getDriverInfo(dev: EthtoolDevice, ifname: string): EthtoolDrvinfo {
  const b = encodeDrvinfoRequest();
  dev.ioctl(ifname, b);
  return decodeDrvinfo(b);
}

/** The driver name for error messages; undefined if even that cannot be read. */
export function driverNameOf(dev: EthtoolDevice, ifname: string): string | undefined {
  try {
    return getDriverInfo(dev, ifname).driver || undefined;
  } catch {
    return undefined;
  }
}
