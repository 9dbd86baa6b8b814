// A TCP proxy that holds what the server sends and passes it on in one write once the
// server has been quiet for a while: the client then reads several SSH messages at once,
// as a busy client does that drains a full socket buffer. Client → server goes at once.
import * as net from "node:net";

export interface CoalescingProxy {
  port: number;
  close(): void;
}

export async function coalescingProxy(upstreamAddress: string, upstreamPort: number, quietMs: number): Promise<CoalescingProxy> {
  const sockets: net.Socket[] = [];
  const server = net.createServer((client) => {
    const upstream = net.connect(upstreamPort, upstreamAddress);
    sockets.push(client, upstream);
    let held: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    const release = () => {
      timer = undefined;
      if (held.length) client.write(Buffer.concat(held));
      held = [];
    };
    upstream.on("data", (d: Buffer) => {
      held.push(d);
      clearTimeout(timer);
      timer = setTimeout(release, quietMs);
    });
    upstream.on("end", () => {
      clearTimeout(timer);
      release();
      client.end();
    });
    client.pipe(upstream);
    upstream.on("error", () => client.destroy());
    client.on("error", () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}
