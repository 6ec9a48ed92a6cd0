/**
 * Previews: a port a server listens on inside the sandbox is exposed on the host's
 * 127.0.0.1:<ephemeral>. Each host connection opens a stream through the agent,
 * which connects to the port on the sandbox's own loopback — so it works in both
 * network modes (no slirp port forwarding needed) and for servers that bind only
 * to localhost inside. Listeners belong to the process that asked for them.
 *
 * Streams are long-lived (a dev server's HMR socket), so they have no per-request
 * deadline; instead each sandbox has a cap on open streams (beyond it a connection is
 * closed at once) and a stream quiet in both directions for too long is closed.
 */
import { createServer, type Server, type Socket } from "node:net";
import { channelLimits, type ChannelLimits } from "./channel-limits.js";
import type { AgentClient } from "./client.js";

/** What a host connection may send before its stream into the sandbox is open. */
const MAX_EARLY_BYTES = 1024 * 1024;

export class PreviewForwarder {
  private readonly servers = new Map<number, Promise<{ server: Server; port: number }>>();
  private readonly limits: ChannelLimits;
  /** Open streams, all ports together. */
  private streams = 0;

  constructor(
    private readonly client: AgentClient,
    limits?: Partial<ChannelLimits>,
  ) {
    this.limits = channelLimits(limits);
  }

  /** Counts the stream while `socket` is open and closes both ends after a quiet spell; returns what marks activity. */
  private track(socket: Socket, ends: () => Socket[]): () => void {
    this.streams++;
    const timer = setTimeout(() => {
      for (const end of ends()) end.destroy();
    }, this.limits.previewIdleMs);
    timer.unref?.();
    socket.once("close", () => {
      this.streams--;
      clearTimeout(timer);
    });
    return () => void timer.refresh();
  }

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
      if (this.streams >= this.limits.previewStreams) {
        socket.destroy();
        return;
      }
      let upstreamSocket: Socket | undefined;
      const active = this.track(socket, () => (upstreamSocket ? [socket, upstreamSocket] : [socket]));
      socket.on("data", active);
      // What the browser sends before the stream into the sandbox is open is held here.
      // Not with pause(): under Bun (OpenCode's runtime) bytes that arrive on a paused
      // socket are never delivered after resume(), and the link hangs.
      const early: Buffer[] = [];
      let held = 0;
      const hold = (chunk: Buffer) => {
        early.push(chunk);
        if ((held += chunk.length) > MAX_EARLY_BYTES) socket.destroy();
      };
      socket.on("data", hold);
      this.client.forward(port).then(
        (forwarded) => {
          const upstream = (upstreamSocket = forwarded.socket);
          if (socket.destroyed) return void upstream.destroy(); // closed (idle, or by the browser) while opening
          upstream.on("data", active);
          socket.off("data", hold);
          for (const chunk of early) upstream.write(chunk);
          upstream.on("error", () => socket.destroy());
          socket.on("close", () => upstream.destroy());
          upstream.on("close", () => socket.destroy());
          socket.pipe(upstream);
          forwarded.pipeTo(socket);
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

/** The forwarders this process opened, one per sandbox; closed when it stops or is deleted. */
export class PreviewForwarders {
  private readonly byId = new Map<string, PreviewForwarder>();

  constructor(private readonly limits?: Partial<ChannelLimits>) {}

  for(id: string, client: AgentClient): PreviewForwarder {
    let forwarder = this.byId.get(id);
    if (!forwarder) this.byId.set(id, (forwarder = new PreviewForwarder(client, this.limits)));
    return forwarder;
  }

  async close(id: string): Promise<void> {
    const forwarder = this.byId.get(id);
    this.byId.delete(id);
    await forwarder?.close();
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.byId.keys()].map((id) => this.close(id)));
  }
}
