/**
 * The allowlist proxy on its own (no sandbox, no root): plain HTTP and CONNECT to an
 * allowed name, refusals with the reason and the option to set, and the resolver's
 * answer checked before any connection. A local server plays "the internet": its
 * address is let through with allowCidrs, as a user would for a LAN host.
 */
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, request, type Server } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../.opencode/plugin/sandbox/core/logger.js";
import { makePolicy } from "../../.opencode/plugin/sandbox/providers/local/egress-policy.js";
import { startEgressProxy, type EgressBlocked, type EgressProxy } from "../../.opencode/plugin/sandbox/providers/local/egress-proxy.js";

const RECORDS: Record<string, string[]> = { "ok.test": ["127.0.0.1"], "rebind.test": ["10.1.2.3"], "meta.test": ["169.254.169.254"] };

let dir: string;
let socketPath: string;
let upstream: Server;
let port: number;
let proxy: EgressProxy;
const blocked: EgressBlocked[] = [];
const upstreamHits: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ocsb-proxy-"));
  socketPath = join(dir, "egress.sock");
  upstream = createServer((req, res) => {
    upstreamHits.push(`${req.headers.host} ${req.url}`);
    res.end("UPSTREAM-OK\n");
  });
  upstream.listen(0, "127.0.0.1");
  await once(upstream, "listening");
  port = (upstream.address() as { port: number }).port;
  proxy = await startEgressProxy({
    socketPath,
    id: "unit",
    log: silentLogger,
    policy: makePolicy({ mode: "allowlist", allowDomains: ["ok.test", "rebind.test", "meta.test"], allowCidrs: ["127.0.0.1"], hostAddresses: [] }),
    resolve: async (host) => {
      const found = RECORDS[host];
      if (!found) throw new Error(`ENOTFOUND ${host}`);
      return found;
    },
    onBlocked: (e) => blocked.push(e),
  });
});

afterAll(async () => {
  await proxy?.close();
  upstream?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path: url, headers: { host: new URL(url).host } }, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode!, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** CONNECT host:port, then a GET through the tunnel; the raw answer. */
function tunnel(target: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(socketPath);
    let text = "";
    let sent = false;
    s.on("data", (c) => {
      text += c;
      if (!sent && text.startsWith("HTTP/1.1 200")) {
        sent = true;
        s.write(`GET /tunnelled HTTP/1.1\r\nHost: ${target}\r\nConnection: close\r\n\r\n`);
      }
    });
    s.on("end", () => resolve(text));
    s.on("error", reject);
    s.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
  });
}

describe("the allowlist proxy", () => {
  it("forwards plain HTTP to an allowed name, keeping its Host", async () => {
    const r = await get(`http://ok.test:${port}/hello?x=1`);
    expect(r).toEqual({ status: 200, body: "UPSTREAM-OK\n" });
    expect(upstreamHits).toContain(`ok.test:${port} /hello?x=1`);
  });

  it("tunnels a CONNECT to an allowed name", async () => {
    const answer = await tunnel(`ok.test:${port}`);
    expect(answer).toMatch(/^HTTP\/1\.1 200 Connection Established/);
    expect(answer).toContain("UPSTREAM-OK");
  });

  it.each([
    ["a name not in the list", "http://nope.test/", "nope.test is not in local.allowDomains", "local.allowDomains"],
    ["an allowed name resolving to a private address", "http://rebind.test/", "rebind.test resolves to 10.1.2.3 is a private", "local.allowCidrs"],
    ["an allowed name resolving to the metadata endpoint", "http://meta.test/", "169.254.169.254 is a private, loopback or link-local address", "local.allowCidrs"],
    ["a bare address not in allowCidrs", "http://10.0.0.1/", "10.0.0.1 is an address, not an allowed domain", "local.allowCidrs"],
  ])("refuses %s with 403, the reason and the option", async (_what, url, why, option) => {
    const before = upstreamHits.length;
    const r = await get(url);
    expect(r.status).toBe(403);
    expect(r.body).toContain(why);
    expect(blocked.at(-1)).toMatchObject({ host: new URL(url).hostname, option });
    expect(upstreamHits.length).toBe(before);
  });

  it("refuses a CONNECT to a name not in the list", async () => {
    const answer = await tunnel("nope.test:443");
    expect(answer).toMatch(/^HTTP\/1\.1 403/);
    expect(answer).toContain("nope.test is not in local.allowDomains");
  });

  it("lets a bare address through only when allowCidrs names it", async () => {
    expect((await get(`http://127.0.0.1:${port}/direct`)).body).toBe("UPSTREAM-OK\n");
  });
});
