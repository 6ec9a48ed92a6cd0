/**
 * A small world of network namespaces for egress tests, made by the test (root) and
 * connected to nothing else — no packet can leave this machine:
 *
 *   "host" H (the provider, its slirp4netns and proxy run here): 198.51.100.1,
 *     192.168.77.1, 169.254.1.1 on a veth to W; a service on 0.0.0.0:8081 that must see
 *     nothing; its resolver (/etc/netns/H/resolv.conf) sits at the private 192.168.77.7.
 *   "world" W: 198.51.100.7 (the "public" server, TEST-NET-2), 192.168.77.7 (a LAN
 *     server, and the DNS server: allowed.test/blocked.test → 198.51.100.7,
 *     rebind.test → 192.168.77.7) and 169.254.169.254 (cloud metadata).
 *
 * Every listener records each connection it accepts; `seen(name)` lists them.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { until } from "./until.js";

export const PUBLIC = "198.51.100.7";
export const LAN = "192.168.77.7";
export const METADATA = "169.254.169.254";
export const HOST_ADDRESSES = ["198.51.100.1", "192.168.77.1", "169.254.1.1"];
export const HOST_PORT = 8081;
export const WORLD_PORT = 8080;

// Runs in a namespace under node: HTTP listeners that log each connection, and a DNS server.
const LISTENERS = String.raw`
const http = require("node:http"), dgram = require("node:dgram");
const spec = JSON.parse(process.argv[1]);
const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");
let pending = spec.http.length + (spec.dns ? 1 : 0);
const up = () => { if (--pending === 0) out({ event: "ready" }); };
for (const l of spec.http) {
  const server = http.createServer((req, res) => res.end(l.name + "-OK\n"));
  server.on("connection", (s) => out({ event: "conn", name: l.name, from: s.remoteAddress }));
  server.listen(l.port, l.host, up);
}
if (spec.dns) {
  const sock = dgram.createSocket("udp4");
  sock.on("message", (q, from) => {
    let i = 12; const labels = [];
    while (q[i]) { labels.push(q.subarray(i + 1, i + 1 + q[i]).toString()); i += q[i] + 1; }
    const qtype = q.readUInt16BE(i + 1); const end = i + 5;
    const name = labels.join(".").toLowerCase(); const ip = spec.dns.records[name];
    out({ event: "dns", name, qtype });
    const head = Buffer.alloc(12); q.copy(head, 0, 0, 2);
    head.writeUInt16BE(ip ? 0x8180 : 0x8183, 2); head.writeUInt16BE(1, 4);
    const answers = ip && qtype === 1 ? [Buffer.concat([Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]), Buffer.from(ip.split(".").map(Number))])] : [];
    head.writeUInt16BE(answers.length, 6);
    sock.send(Buffer.concat([head, q.subarray(12, end), ...answers]), from.port, from.address);
  });
  sock.bind(53, spec.dns.host, up);
}
`;

export interface Connection {
  event: string;
  name: string;
  from?: string;
}

export interface EgressNet {
  /** Name of the "host" namespace (run the provider with `ip netns exec <host>`). */
  host: string;
  /** Every event the listeners reported so far. */
  events: Connection[];
  seen(name: string): Connection[];
  close(): void;
}

const ip = (...args: string[]) => execFileSync("ip", args, { stdio: "pipe" });

function listen(ns: string, spec: object, events: Connection[]): { child: ChildProcess; ready: () => boolean } {
  const child = spawn("ip", ["netns", "exec", ns, process.execPath, "-e", LISTENERS, JSON.stringify(spec)], { stdio: ["ignore", "pipe", "inherit"] });
  let ready = false;
  let buffer = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    buffer += chunk.toString();
    const lines = buffer.split("\n");
    buffer = lines.pop()!;
    for (const line of lines) {
      const e = JSON.parse(line) as Connection;
      if (e.event === "ready") ready = true;
      else events.push(e);
    }
  });
  return { child, ready: () => ready };
}

export async function egressNet(): Promise<EgressNet> {
  const tag = randomBytes(3).toString("hex");
  const host = `ocsb-h-${tag}`;
  const world = `ocsb-w-${tag}`;
  const children: ChildProcess[] = [];
  const close = () => {
    for (const c of children) c.kill("SIGKILL");
    for (const ns of [host, world]) {
      try {
        ip("netns", "del", ns);
      } catch {}
    }
    rmSync(`/etc/netns/${host}`, { recursive: true, force: true });
  };
  try {
    ip("netns", "add", host);
    ip("netns", "add", world);
    ip("-n", host, "link", "add", "vh", "type", "veth", "peer", "name", "vw", "netns", world);
    for (const [ns, dev, addrs] of [
      [host, "vh", ["198.51.100.1/24", "192.168.77.1/24", "169.254.1.1/16"]],
      [world, "vw", [`${PUBLIC}/24`, `${LAN}/24`, `${METADATA}/16`]],
    ] as const) {
      ip("-n", ns, "link", "set", "lo", "up");
      ip("-n", ns, "link", "set", dev, "up");
      for (const a of addrs) ip("-n", ns, "addr", "add", a, "dev", dev);
    }
    // The host's resolver is a private address: name resolution must keep working anyway.
    mkdirSync(`/etc/netns/${host}`, { recursive: true });
    writeFileSync(`/etc/netns/${host}/resolv.conf`, `nameserver ${LAN}\n`);
    const events: Connection[] = [];
    const w = listen(world, {
      http: [
        { name: "public", host: PUBLIC, port: WORLD_PORT },
        { name: "lan", host: LAN, port: WORLD_PORT },
        { name: "metadata", host: METADATA, port: 80 },
      ],
      dns: { host: LAN, records: { "allowed.test": PUBLIC, "blocked.test": PUBLIC, "rebind.test": LAN } },
    }, events);
    const h = listen(host, { http: [{ name: "host", host: "0.0.0.0", port: HOST_PORT }] }, events);
    children.push(w.child, h.child);
    await until(() => w.ready() && h.ready(), "the listeners in the test's namespaces", 30_000);
    return { host, events, seen: (name) => events.filter((e) => e.event === "conn" && e.name === name), close };
  } catch (error) {
    close();
    throw error;
  }
}
