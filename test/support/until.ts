/** Polls until `check` holds; the bound only catches a hang. */
export async function until(check: () => boolean | Promise<boolean>, what: string, boundMs = 60_000): Promise<void> {
  const deadline = Date.now() + boundMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`still waiting after ${boundMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
