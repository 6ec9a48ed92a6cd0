/**
 * This installation's id: made once, kept beside the state files. Daytona sandboxes
 * carry it, so that listing and pruning only ever touch this installation's own.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { stateDir } from "./paths.js";

const ID = /^[0-9a-f]{16}$/;

export async function installationId(dir = stateDir()): Promise<string> {
  const path = join(dir, "installation-id");
  const existing = (await readFile(path, "utf8").catch(() => "")).trim();
  if (ID.test(existing)) return existing;
  await mkdir(dirname(path), { recursive: true });
  // The first of two processes starting at once wins; the other reads its id.
  await writeFile(path, randomBytes(8).toString("hex"), { flag: "wx" }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== "EEXIST") throw error;
  });
  const id = (await readFile(path, "utf8")).trim();
  if (!ID.test(id)) throw new Error(`${path} does not hold an installation id; remove it to make a new one`);
  return id;
}
