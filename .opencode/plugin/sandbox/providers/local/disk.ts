/**
 * What a local sandbox takes on disk: the blocks allocated under its directory, as
 * `du -x` counts them. A mount below it (a disk image mounted as its workspace) is not
 * entered: the image file itself is counted, by the blocks it really uses.
 */
import { lstat, readdir } from "node:fs/promises";
import type { Stats } from "node:fs";
import { join } from "node:path";

export async function diskUsed(dir: string): Promise<number> {
  const top = await lstat(dir);
  let total = 0;
  const walk = async (path: string, st: Stats): Promise<void> => {
    total += st.blocks * 512;
    if (!st.isDirectory()) return;
    for (const name of await readdir(path).catch(() => [] as string[])) {
      const child = join(path, name);
      // Files come and go while the sandbox runs: a vanished one counts nothing.
      const cst = await lstat(child).catch(() => null);
      if (cst && cst.dev === top.dev) await walk(child, cst);
    }
  };
  await walk(dir, top);
  return total;
}
