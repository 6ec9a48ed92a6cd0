/**
 * Seeding: fills a new (or re-created) sandbox's repository with what the user sees
 * (see seed-commit.ts for which commit), as one bundle uploaded into the sandbox.
 */
import { readFile, rm } from "node:fs/promises";
import type { Config } from "../config.js";
import type { Logger } from "../core/logger.js";
import type { SeedContext } from "../core/session-manager.js";
import type { SessionRecord } from "../core/state-store.js";
import type { Sandbox } from "../providers/provider.js";
import type { Notify } from "../service/notices.js";
import { reach, type PhaseHook } from "../util/phases.js";
import type { HostRepository } from "./host-repo.js";
import { recoverSession } from "./recover.js";
import { ignoredRef, sessionRef } from "./refs.js";
import { runScript, sandboxPath, SEED_SCRIPT } from "./sandbox-git.js";
import { seedCommit } from "./seed-commit.js";
import { withIgnored } from "./snapshot.js";

export interface SeederOptions {
  host: HostRepository;
  config: Pick<Config, "sync">;
  log: Logger;
  notify: Notify;
  store: { patch(sessionID: string, patch: Partial<SessionRecord>): Promise<SessionRecord | undefined> };
  /** Tests: stop at named points (see util/phases.ts). */
  phases?: PhaseHook;
}

export class Seeder {
  constructor(private readonly o: SeederOptions) {}

  /** SessionManagerOptions.recover: the session's branch and sync point as the repository's refs record them. */
  recover = async (sessionID: string): Promise<Partial<SessionRecord>> => {
    const open = await this.o.host.find();
    if (!open) return {};
    return recoverSession(open.git, sessionID, this.o.config.sync.branchPrefix);
  };

  /** SessionManagerOptions.seed: the record fields the seed decided (base commit, branch). */
  seed = async (sandbox: Sandbox, ctx: SeedContext): Promise<Partial<SessionRecord>> => {
    const { host, phases } = this.o;
    const open = await host.open();
    if (!open) return {};
    const { repo, git } = open;
    const { sessionID } = ctx;
    const reflog = `opencode-sandboxed: seed session ${sessionID}`;
    const identity = await host.who(git);
    const tmp = await host.tmp(repo, "seed");
    try {
      const { fields, ignored } = await host.locked(repo, async () => {
        const { commit, fields } = await seedCommit({
          git,
          repo,
          sessionID,
          record: ctx.record,
          recreated: ctx.recreated,
          sync: this.o.config.sync,
          identity,
          reflog,
          log: this.o.log,
          notify: this.o.notify,
          persist: (f) => this.o.store.patch(sessionID, f),
          files: open.files,
        });
        // Keeps the seed commit reachable (a snapshot commit is otherwise dangling) and names it for the bundle.
        await git.run(["update-ref", "-m", reflog, sessionRef(sessionID), commit]);
        // Ignored files the user opted into travel on a ref of their own that lives only for the bundle.
        const extra = open.files ? undefined : await withIgnored(git, repo, commit, { copyIgnored: this.o.config.sync.copyIgnored, identity });
        if (!extra) {
          await git.run(["bundle", "create", tmp, sessionRef(sessionID)]);
          return { fields, ignored: "" };
        }
        this.o.log.info(`copying ignored files into the sandbox (not onto the branch): ${extra.files.join(", ")}`, sessionID);
        const ref = ignoredRef(sessionID);
        await git.run(["update-ref", ref, extra.commit]);
        try {
          await git.run(["bundle", "create", tmp, sessionRef(sessionID), ref]);
        } finally {
          await git.run(["update-ref", "-d", ref], { allowFail: true });
        }
        return { fields, ignored: ref };
      });
      await reach(phases, "seed:bundled");
      const remote = sandboxPath(sandbox, "seed.bundle");
      await sandbox.writeFile(remote, await readFile(tmp));
      await runScript(sandbox, SEED_SCRIPT, {
        OC_BUNDLE: remote,
        OC_REF: sessionRef(sessionID),
        OC_IGNORED_REF: ignored,
        OC_NAME: identity.name,
        OC_EMAIL: identity.email,
      });
      await reach(phases, "seed:done");
      return fields;
    } finally {
      await rm(tmp, { force: true });
    }
  };
}
