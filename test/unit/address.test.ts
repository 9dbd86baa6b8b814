// The one text↔bytes conversion of MAC, IPv4 and IPv6 addresses (provider/common/address.ts).
import { addressFamily, formatIPv4, formatIPv6, formatMac, parseIPv4, parseIPv6, parseMac, writeMac } from "../../provider/common/address";

describe("addresses as text and bytes", () => {
  test("a MAC round-trips, written in place at an offset", () => {
    const b = Buffer.alloc(8, 0xee);
    writeMac("02:AB:cd:00:01:ff", b, 1);
    expect(b.toString("hex")).toBe("ee02abcd0001ffee");
    expect(formatMac(b.subarray(1))).toBe("02:ab:cd:00:01:ff");
    expect(parseMac("02:00:00:00:00:01").toString("hex")).toBe("020000000001");
  });

  test.each(["02-00-00-00-00-01", "2:0:0:0:0:1", "02:00:00:00:00", "02:00:00:00:00:0g"])("MAC text %j is refused by value", (text) => {
    expect(() => parseMac(text)).toThrow(`invalid MAC address ${JSON.stringify(text)}`);
  });

  test("IPv4 round-trips", () => {
    expect(parseIPv4("192.0.2.10").toString("hex")).toBe("c000020a");
    expect(formatIPv4(Buffer.from("c000020a", "hex"))).toBe("192.0.2.10");
    expect(() => parseIPv4("192.0.2.256")).toThrow('invalid IPv4 address "192.0.2.256"');
  });

  test.each([
    ["2001:db8::1", "20010db8000000000000000000000001", "2001:db8::1"],
    ["::ffff:192.0.2.1", "00000000000000000000ffffc0000201", "::ffff:c000:201"],
    ["64:ff9b::1:192.0.2.1", "0064ff9b000000000000 0001c0000201".replace(" ", ""), "64:ff9b::1:c000:201"],
    ["2001:DB8:0:0:1:0:0:1", "20010db8000000000001000000000001", "2001:db8::1:0:0:1"],
    ["::", "00000000000000000000000000000000", "::"],
  ])("IPv6 %s is %s and reads back as %s (RFC 5952)", (text, hex, canonical) => {
    expect(parseIPv6(text).toString("hex")).toBe(hex);
    expect(formatIPv6(Buffer.from(hex, "hex"))).toBe(canonical);
  });

  test("an IPv6 zone is refused: a map key has no room for one", () => {
    expect(() => parseIPv6("fe80::1%eth0")).toThrow('invalid IPv6 address "fe80::1%eth0"');
  });

  test("the family of an address, or an error naming it", () => {
    expect(addressFamily("10.0.0.1")).toBe(4);
    expect(addressFamily("fe80::1")).toBe(6);
    expect(() => addressFamily("10.0.0")).toThrow('invalid IP address "10.0.0"');
  });
});
