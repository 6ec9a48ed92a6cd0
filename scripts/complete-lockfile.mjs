#!/usr/bin/env node
// The registry mirror these machines use serves only linux-x64 builds, so
// `npm install` leaves other platforms' optional packages out of
// package-lock.json and `npm ci` then refuses the lock as out of sync.
// This adds a stub entry (name, version, os/cpu/libc) for every missing optional
// dependency; npm ci skips them on other platforms and fetches them by name
// where they apply. Run after `npm install` changes the lock.
import { readFileSync, writeFileSync } from "node:fs";

const file = new URL("../package-lock.json", import.meta.url);
const lock = JSON.parse(readFileSync(file, "utf8"));
const packages = lock.packages;

const OS = { darwin: "darwin", linux: "linux", win32: "win32", windows: "win32" };
const CPU = ["arm64", "x64", "arm", "ia32"];

function platformOf(name) {
  const parts = name.split("/").pop().split("-");
  const os = parts.map((p) => OS[p]).find(Boolean);
  const cpu = parts.find((p) => CPU.includes(p));
  if (!os || !cpu) throw new Error(`cannot tell the platform of optional package ${name}`);
  return { os: [os], cpu: [cpu], ...(parts.includes("musl") ? { libc: ["musl"] } : {}) };
}

let added = 0;
for (const [path, entry] of Object.entries(packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`;
    if (packages[key] || packages[`${path}/${key}`]) continue;
    packages[key] = { version, ...platformOf(name), ...(entry.dev ? { dev: true } : {}), optional: true };
    added++;
  }
}
lock.packages = Object.fromEntries(Object.entries(packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a < b ? -1 : a > b ? 1 : 0)));
writeFileSync(file, JSON.stringify(lock, null, 2) + "\n");
console.log(`package-lock.json: added ${added} optional platform entries`);
