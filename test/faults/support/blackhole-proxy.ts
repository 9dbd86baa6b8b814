// A TCP proxy that can stop forwarding without closing anything: the network path dies
// silently (no FIN, no RST), as when a link or a NAT entry goes away. Both ends keep
// their sockets open; bytes sent by either are read and thrown away, never answered.
import * as net from "node:net";

export interface BlackholeProxy {
  /** The local port to connect to instead of the target. */
  port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** From now on nothing passes, in either direction, and no close is passed on. */
  blackhole(): void;
  /** Closes the listener and every socket (test cleanup). */
  close(): Promise<void>;
}

export async function startBlackholeProxy(target: { address: string; port: number }): Promise<BlackholeProxy> {
  const sockets = new Set<net.Socket>();
  let dark = false;
  let accepted = 0;
  const track = (s: net.Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => undefined);
  };
  const server = net.createServer((client) => {
    accepted++;
    track(client);
    if (dark) return; // a new connection after the drop goes nowhere either
    const upstream = net.connect(target.port, target.address);
    track(upstream);
    const pass = (from: net.Socket, to: net.Socket) => {
      from.on("data", (d) => {
        if (!dark) to.write(d);
      });
      // A close is news the other side must not get once the path is dark.
      from.on("end", () => {
        if (!dark) to.end();
      });
      from.on("close", () => {
        if (!dark) to.destroy();
      });
    };
    pass(client, upstream);
    pass(upstream, client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    get accepted() {
      return accepted;
    },
    blackhole() {
      dark = true;
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
