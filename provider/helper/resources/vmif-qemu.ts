// What a VM's launcher needs to use the tap: QEMU arguments and a libvirt <interface>.
// Without offloads (the XDP fast path's default) both the host side of vhost and the
// guest are told not to negotiate checksum/segmentation offloads: XDP in the guest
// cannot work with them, and the host tap must not receive GSO frames.
import { VmifArgs } from "../../common/args/vmif";

const OFFLOADS_OFF_QEMU = "csum=off,guest_csum=off,guest_tso4=off,guest_tso6=off,guest_ecn=off,guest_ufo=off,host_tso4=off,host_tso6=off,host_ecn=off,host_ufo=off";

function netdevId(name: string): string {
  return `hn-${name.replace(/[^A-Za-z0-9]/g, "-")}`;
}

export function qemuArgs(a: Pick<VmifArgs, "name" | "queues" | "mac" | "offloads">): string[] {
  const id = netdevId(a.name);
  const device = [`virtio-net-pci`, `netdev=${id}`, `mac=${a.mac}`, `mq=on`, `vectors=${2 * a.queues + 2}`];
  if (!a.offloads) device.push(OFFLOADS_OFF_QEMU);
  return [
    "-netdev", `tap,id=${id},ifname=${a.name},script=no,downscript=no,vhost=on,queues=${a.queues}`,
    "-device", device.join(","),
  ];
}

export function libvirtXml(a: Pick<VmifArgs, "name" | "queues" | "mac" | "offloads">): string {
  const off = a.offloads
    ? ""
    : `\n    <host csum='off' tso4='off' tso6='off' ecn='off' ufo='off'/>\n    <guest csum='off' tso4='off' tso6='off' ecn='off' ufo='off'/>\n  `;
  const driver = a.offloads ? `<driver name='vhost' queues='${a.queues}'/>` : `<driver name='vhost' queues='${a.queues}'>${off}</driver>`;
  return [
    `<interface type='ethernet'>`,
    `  <target dev='${a.name}' managed='no'/>`,
    `  <mac address='${a.mac}'/>`,
    `  <model type='virtio'/>`,
    `  ${driver}`,
    `</interface>`,
  ].join("\n");
}
