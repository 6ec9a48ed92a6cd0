/** Quoting for POSIX shells: every value becomes one word, whatever it contains. */

export function shq(value: string): string {
  if (value.includes("\0")) throw new Error("Argument contains a NUL byte");
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** `sh -c '<body>' sh <args…>`: the script sees its arguments as "$1"…, never re-parsed. */
export function shellScript(body: string, ...args: string[]): string {
  return ["sh", "-c", shq(body), "sh", ...args.map(shq)].join(" ");
}
