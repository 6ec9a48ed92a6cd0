/**
 * Network "allowlist": the sandbox has no route at all (its network namespace holds
 * only loopback); its one way out is this proxy, run by the host on a unix socket in
 * the sandbox's run directory (so only that sandbox can reach it; the agent forwards
 * 127.0.0.1:EGRESS_PORT inside to it). It speaks HTTP CONNECT (https, git over
 * https) and plain-HTTP forwarding, resolves names on the host, and refuses a name
 * not in `allowDomains`, and any name that resolves to a private or host address
 * (DNS rebinding). It connects to the address it checked, never resolves twice.
 * Every refusal is logged and reported (onBlocked): the user sees what to allow.
 */
import { lookup } from "node:dns/promises";
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { connect, isIP, type Socket } from "node:net";
import { chmod, unlink } from "node:fs/promises";
import type { Duplex } from "node:stream";
import type { ProviderLog } from "../provider.js";
import { addressVerdict, domainAllowed, inAllowedCidrs, type EgressPolicy } from "./egress-policy.js";

/** Where the agent listens inside the sandbox and forwards to the proxy. */
export const EGRESS_PORT = 3128;
/** The proxy's socket, relative to the sandbox's run directory. */
export const EGRESS_SOCKET = "egress.sock";
const MAX_CONNECTIONS = 256;
/** A tunnel or request with no traffic this long is closed. */
const IDLE_MS = 10 * 60_000;
const CONNECT_TIMEOUT_MS = 30_000;

export interface EgressBlocked {
  host: string;
  port: number;
  why: string;
  /** The option that would let it through. */
  option: "local.allowDomains" | "local.allowCidrs";
}

export type Resolve = (host: string) => Promise<string[]>;

const systemResolve: Resolve = async (host) => (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

export interface EgressProxyOptions {
  socketPath: string;
  policy: EgressPolicy;
  id: string;
  log: ProviderLog;
  onBlocked?: (event: EgressBlocked) => void;
  /** Tests and hosts with a special resolver; default: the system's (getaddrinfo). */
  resolve?: Resolve;
}

export interface EgressProxy {
  close(): Promise<void>;
}

class Refused extends Error {
  constructor(message: string, readonly option: EgressBlocked["option"] = "local.allowCidrs") {
    super(message);
  }
}

/** Which address to connect to for host:port, or Refused saying why not. */
async function destination(o: EgressProxyOptions, host: string): Promise<string> {
  const bare = host.replace(/^\[(.*)\]$/, "$1");
  if (isIP(bare)) {
    // By number only what the user listed: a literal address skips the domain list.
    if (!inAllowedCidrs(o.policy, bare)) throw new Refused(`${bare} is an address, not an allowed domain (allow it with local.allowCidrs)`);
    return bare;
  }
  if (!domainAllowed(o.policy.allowDomains, bare)) throw new Refused(`${bare} is not in local.allowDomains`, "local.allowDomains");
  let addresses: string[];
  try {
    addresses = await (o.resolve ?? systemResolve)(bare);
  } catch (error) {
    throw new Refused(`${bare} could not be resolved (${(error as Error).message})`);
  }
  let why = `${bare} has no address`;
  for (const address of addresses) {
    const verdict = addressVerdict(o.policy, address);
    if (verdict.allowed) return address;
    why = `${bare} resolves to ${verdict.why}`;
  }
  throw new Refused(why);
}

function refusal(why: string): string {
  return `Blocked by the sandbox's egress allow-list: ${why}.\n`;
}

export async function startEgressProxy(o: EgressProxyOptions): Promise<EgressProxy> {
  const blocked = (host: string, port: number, error: Error) => {
    const why = error instanceof Refused ? error.message : `internal error: ${error.message}`;
    const option = error instanceof Refused ? error.option : "local.allowDomains";
    o.log.warn(`local sandbox ${o.id}: egress blocked: ${host}:${port} — ${why}`);
    o.onBlocked?.({ host, port, why, option });
    return why;
  };
  const server: Server = createServer();
  server.maxConnections = MAX_CONNECTIONS;
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;

  server.on("connect", (req: IncomingMessage, client: Duplex, head: Buffer) => {
    client.on("error", () => {});
    const target = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(req.url ?? "");
    if (!target) {
      client.end("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nCONNECT needs host:port\n");
      return;
    }
    const host = target[1]!.toLowerCase();
    const port = Number(target[2]);
    destination(o, host).then(
      (address) => {
        const upstream: Socket = connect({ host: address, port, timeout: CONNECT_TIMEOUT_MS });
        let connected = false;
        upstream.once("timeout", () => upstream.destroy(new Error("connect timed out")));
        upstream.once("connect", () => {
          connected = true;
          upstream.setTimeout(IDLE_MS);
          client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
          if (head.length) upstream.write(head);
          upstream.pipe(client);
          client.pipe(upstream);
        });
        upstream.on("error", (e) => {
          if (!client.destroyed && !connected)
            client.end(`HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n${host}:${port}: ${e.message}\n`);
          else client.destroy();
        });
        client.on("close", () => upstream.destroy());
        upstream.on("close", () => client.destroy());
      },
      (error: Error) => {
        const why = blocked(host, port, error);
        client.end(`HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n${refusal(why)}`);
      },
    );
  });

  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    let url: URL;
    try {
      url = new URL(req.url ?? "");
      if (url.protocol !== "http:") throw new Error("not http");
    } catch {
      res.writeHead(400, { "content-type": "text/plain" }).end("The sandbox's proxy forwards absolute http:// URLs (https goes through CONNECT).\n");
      return;
    }
    const host = url.hostname.toLowerCase();
    const port = Number(url.port || 80);
    destination(o, host).then(
      (address) => {
        const headers = { ...req.headers };
        for (const h of ["proxy-connection", "proxy-authorization", "connection", "keep-alive"]) delete headers[h];
        const upstream = request({ host: address, port, method: req.method, path: `${url.pathname}${url.search}`, headers, setHost: false, timeout: IDLE_MS });
        upstream.on("response", (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.statusMessage, answer.headers);
          answer.pipe(res);
        });
        upstream.on("timeout", () => upstream.destroy(new Error("timed out")));
        upstream.on("error", (e) => {
          if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" }).end(`${host}:${port}: ${e.message}\n`);
          else res.destroy();
        });
        req.pipe(upstream);
      },
      (error: Error) => {
        const why = blocked(host, port, error);
        res.writeHead(403, { "content-type": "text/plain", connection: "close" }).end(refusal(why));
      },
    );
  });
  server.on("clientError", (_e, socket) => socket.destroy());

  await unlink(o.socketPath).catch(() => {});
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.socketPath, () => {
      server.off("error", reject);
      resolve();
    });
  });
  // The sandbox's own uid connects (it owns the run directory; nobody else can enter it).
  await chmod(o.socketPath, 0o666);
  server.unref();
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
      }),
  };
}
