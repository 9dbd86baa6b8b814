// Real frames for the CLI lab tests: sent from the lab's external namespace through the
// lab switch into a host's uplink (what l2fwd sees), and written into a VM's tap as the
// guest would (what vm-egress sees). The senders are tiny python3 programs (AF_PACKET,
// /dev/net/tun): Node has neither raw sockets nor ioctl. Frames are test constants.
import { execFileSync } from "node:child_process";
import type { Lab } from "../../support/lab";

export interface Burst {
  frame: Buffer;
  count: number;
}

const SEND_PACKET = `
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
for spec in sys.argv[2:]:
    n, h = spec.split(":")
    f = bytes.fromhex(h)
    for _ in range(int(n)):
        s.send(f)
`;

// The tap was made multiqueue with vnet headers: the queue must be opened with the same
// flags, and every write starts with a 10-byte virtio_net_hdr (all zero: no offloads).
// O_NONBLOCK takes tun's XDP path for written frames.
const WRITE_TAP = `
import fcntl, os, struct, sys
IFF_TAP, IFF_NO_PI, IFF_MULTI_QUEUE, IFF_VNET_HDR = 0x2, 0x1000, 0x100, 0x4000
fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
fcntl.ioctl(fd, 0x400454ca, struct.pack("16sH", sys.argv[1].encode(), IFF_TAP | IFF_NO_PI | IFF_MULTI_QUEUE | IFF_VNET_HDR))
for spec in sys.argv[2:]:
    n, h = spec.split(":")
    f = bytes(10) + bytes.fromhex(h)
    for _ in range(int(n)):
        os.write(fd, f)
os.close(fd)
`;

const specs = (bursts: Burst[]) => bursts.map((b) => `${b.count}:${b.frame.toString("hex")}`);

/** Sends frames out of the external namespace's port on the lab switch (they reach every host's uplink). */
export function sendFromExternal(lab: Lab, bursts: Burst[]): void {
  const ext = lab.inventory.external;
  execFileSync("ip", ["netns", "exec", ext.netns, "python3", "-c", SEND_PACKET, ext.device, ...specs(bursts)], { stdio: ["ignore", "pipe", "pipe"] });
}

/** Writes frames into a host's tap, as the VM behind it would send them. */
export function sendFromVm(lab: Lab, host: string, tap: string, bursts: Burst[]): void {
  lab.hostExec(host, "python3", ["-c", WRITE_TAP, tap, ...specs(bursts)]);
}
