// Proof of parallelism that does not depend on timing: a TCP barrier in front of each
// host's sshd. Nothing is forwarded until every host has been dialed, so a client that
// served hosts one after the other would wait on the first one forever, however fast or
// slow the machine is, and a client that dials them together passes however loaded it is.
import * as net from "node:net";

/** Where a host's sshd listens (a lab host has these and more). */
export interface BarrierTarget {
  name: string;
  address: string;
  port: number;
}

export interface TcpBarrier {
  /** A local port (on 127.0.0.1) per host, in the order the hosts were given. */
  ports: number[];
  /** Resolves at the first connection: a deadline for the rest counts from there, not from a slow start. */
  firstDial: Promise<void>;
  /** Resolves when every host has been dialed, and the held connections go through. */
  reached: Promise<void>;
  /** The hosts dialed so far, for a failure message that says where a client stopped. */
  dialed(): string[];
  close(): void;
}

/**
 * A barrier proxy per host. A host counts once however many connections it gets: a
 * client that opened two connections to the first host before the second host would
 * still be serial. Once the barrier is passed, new connections (a reconnect, the
 * destroy of cleanup) go straight through.
 */
export async function barrierProxies(hosts: BarrierTarget[]): Promise<TcpBarrier> {
  const held: Array<() => void> = [];
  const dialed = new Set<string>();
  const sockets = new Set<net.Socket>();
  let open = false;
  let started!: () => void;
  const firstDial = new Promise<void>((resolve) => (started = resolve));
  let release!: () => void;
  const reached = new Promise<void>((resolve) => (release = resolve));
  const track = (s: net.Socket) => {
    sockets.add(s);
    // A client that gives up while held resets its socket; that must not crash the test run.
    s.on("error", () => undefined);
    s.once("close", () => sockets.delete(s));
  };
  const servers = await Promise.all(hosts.map((h) => new Promise<net.Server>((resolve, reject) => {
    const server = net.createServer((client) => {
      track(client);
      client.pause();
      const forward = () => {
        if (client.destroyed) return; // gave up while held (its own timeout)
        const upstream = net.connect(h.port, h.address, () => {
          client.pipe(upstream).pipe(client);
          client.resume();
        });
        track(upstream);
        upstream.on("error", () => client.destroy());
        client.on("error", () => upstream.destroy());
        upstream.on("close", () => client.destroy());
        client.on("close", () => upstream.destroy());
      };
      if (open) return forward();
      started();
      held.push(forward);
      dialed.add(h.name);
      if (dialed.size === hosts.length) {
        open = true;
        release();
        for (const go of held.splice(0)) go();
      }
    });
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(server));
  })));
  return {
    ports: servers.map((s) => (s.address() as net.AddressInfo).port),
    firstDial,
    reached,
    dialed: () => hosts.map((h) => h.name).filter((n) => dialed.has(n)),
    close() {
      for (const s of servers) if (s.listening) s.close();
      for (const s of sockets) s.destroy();
    },
  };
}
