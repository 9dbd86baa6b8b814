// A TCP proxy in front of a lab host's sshd that a fault test can turn against the
// client: hold what the server sends (the request went through, its answer never comes
// back), then cut every connection at once (the SSH session dies with the request in
// flight). Connections made after a cut are forwarded normally: the client's reconnect.
import * as net from "node:net";

export interface TcpProxy {
  /** The local port to dial instead of the target's. */
  port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** From now on, bytes from the server on the current connections are dropped. */
  holdReplies(): void;
  /** Destroys every current connection, both sides; later connections flow normally. */
  cutAll(): void;
  close(): Promise<void>;
}

interface Pair {
  client: net.Socket;
  upstream: net.Socket;
  held: boolean;
}

export async function startTcpProxy(target: { address: string; port: number }): Promise<TcpProxy> {
  const pairs = new Set<Pair>();
  let accepted = 0;
  const server = net.createServer((client) => {
    accepted++;
    client.pause();
    const upstream = net.connect(target.port, target.address);
    const pair: Pair = { client, upstream, held: false };
    pairs.add(pair);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      pairs.delete(pair);
    };
    upstream.on("connect", () => client.resume());
    client.on("data", (d) => upstream.write(d));
    upstream.on("data", (d) => {
      if (!pair.held) client.write(d);
    });
    client.on("error", drop);
    upstream.on("error", drop);
    client.on("close", drop);
    upstream.on("close", drop);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    get accepted() {
      return accepted;
    },
    holdReplies() {
      for (const p of pairs) p.held = true;
    },
    cutAll() {
      for (const p of [...pairs]) {
        p.client.destroy();
        p.upstream.destroy();
        pairs.delete(p);
      }
    },
    close() {
      for (const p of [...pairs]) {
        p.client.destroy();
        p.upstream.destroy();
      }
      pairs.clear();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
