/** A file system error whose message says what was done to which file ("ENOSPC … write" alone names none); its errno `code` is kept. */
export function namedFsError(what: string, error: unknown): unknown {
  const e = error as NodeJS.ErrnoException;
  if (!e?.code) return error;
  return Object.assign(new Error(`${what}: ${e.message}`, { cause: error }), { code: e.code });
}
