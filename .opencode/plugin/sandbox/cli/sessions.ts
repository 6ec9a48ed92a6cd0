/**
 * Which session a command means: a session id, a unique prefix of one, or its branch
 * (`opencode/3`); none given, the root session used last. Subagent sessions stand for
 * their root (they share its sandbox and branch).
 */
import type { SessionRecord, StateStore } from "../core/state-store.js";
import { CliError } from "./output.js";

export interface ChosenSession {
  id: string;
  record: SessionRecord;
}

export async function chooseSession(store: Pick<StateStore, "read" | "path">, wanted: string | undefined): Promise<ChosenSession> {
  const sessions = Object.entries((await store.read()).sessions);
  const roots = sessions.filter(([, r]) => !r.parentId);
  if (!roots.length) throw new CliError(`No session of this project has a sandbox (state file: ${store.path}).`);
  let found: [string, SessionRecord][];
  if (!wanted) found = [roots.reduce((a, b) => (a[1].lastUsedAt >= b[1].lastUsedAt ? a : b))];
  else {
    found = sessions.filter(([id, r]) => id === wanted || r.branch === wanted || r.sideBranch === wanted);
    if (!found.length) found = sessions.filter(([id]) => id.startsWith(wanted));
  }
  if (found.length > 1) throw new CliError(`"${wanted}" names ${found.length} sessions: ${found.map(([id]) => id).join(", ")}. Give more of the id.`);
  const [hit] = found;
  if (!hit) throw new CliError(`No session "${wanted}" in this project. \`opencode-sandboxed status\` lists them.`);
  const [id, record] = hit;
  if (!record.parentId) return { id, record };
  const root = sessions.find(([rid]) => rid === record.parentId);
  if (!root) throw new CliError(`Session ${id} is a subagent of ${record.parentId}, which has no sandbox any more.`);
  return { id: root[0], record: root[1] };
}
