/**
 * Previews: a port a server listens on inside the sandbox is exposed on the host's
 * 127.0.0.1:<ephemeral>. Each host connection opens a stream through the agent,
 * which connects to the port on the sandbox's own loopback — so it works in both
 * network modes (no slirp port forwarding needed) and for servers that bind only
 * to localhost inside. Listeners belong to the process that asked for them.
 */
import { createServer, type Server } from "node:net";
import type { AgentClient } from "./client.js";

export class PreviewForwarder {
  private readonly servers = new Map<number, Promise<{ server: Server; port: number }>>();

  constructor(private readonly client: AgentClient) {}

  /** The host port for `port` in the sandbox (one listener per sandbox port). */
  hostPort(port: number): Promise<number> {
    let entry = this.servers.get(port);
    if (!entry) {
      entry = this.listen(port);
      this.servers.set(port, entry);
      entry.catch(() => this.servers.delete(port));
    }
    return entry.then((e) => e.port);
  }

  private listen(port: number): Promise<{ server: Server; port: number }> {
    const server = createServer((socket) => {
      socket.on("error", () => {});
      socket.pause();
      this.client.forward(port).then(
        ({ socket: upstream, head }) => {
          if (head.length) socket.write(head);
          upstream.on("error", () => socket.destroy());
          socket.on("close", () => upstream.destroy());
          upstream.on("close", () => socket.destroy());
          socket.pipe(upstream);
          upstream.pipe(socket);
          socket.resume();
        },
        () => socket.destroy(), // nothing listens inside (yet), or the sandbox is gone
      );
    });
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => {
        server.unref();
        const address = server.address();
        resolve({ server, port: typeof address === "object" && address ? address.port : 0 });
      });
    });
  }

  async close() {
    const entries = [...this.servers.values()];
    this.servers.clear();
    for (const entry of entries) {
      const { server } = await entry.catch(() => ({ server: null }));
      server?.close();
    }
  }
}
