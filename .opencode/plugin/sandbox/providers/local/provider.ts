/**
 * LocalProvider: sandboxes from Linux namespaces with bubblewrap, one long-lived
 * sandbox per id, reached through the resident agent inside it.
 *
 * Ownership: the process that starts a sandbox owns its bubblewrap (which dies with
 * it: --die-with-parent), its slirp4netns and its cgroups, and records that in
 * owner.json. Another process using the same id joins through the agent's socket.
 * A crash's leftovers are cleaned when a provider starts (owner no longer alive);
 * workspaces are only ever removed by delete.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { unlinkSync } from "node:fs";
import { unlink } from "node:fs/promises";
import type { Logger } from "../../core/logger.js";
import { sandboxesDir } from "../../core/paths.js";
import { SandboxError, type CreateSpec, type Sandbox, type SandboxInfo, type SandboxProvider, type SandboxState } from "../provider.js";
import { createCgroups, detectCgroups, pruneEmptyCgroups, removeCgroups, type CgroupSupport } from "./cgroups.js";
import { AgentClient } from "./client.js";
import { baseEnv, checkEnv } from "./env.js";
import { launch, type Launched, type LaunchSpec } from "./launch.js";
import { clampLimits, type LimitsReport, type LimitStatus } from "./limits.js";
import { startSlirp, type Slirp } from "./network.js";
import { preflight, type Tools } from "./preflight.js";
import { PreviewForwarder } from "./preview.js";
import { alive, ref } from "../../util/process-ref.js";
import { killRef, pidsOfUid, sleep } from "./proc.js";
import { LocalSandbox } from "./sandbox.js";
import { lockHeld, Store, type Meta, type Owner } from "./store.js";

export interface LocalProviderOptions {
  /** Where workspaces and run directories live; default `sandboxesDir()`. */
  root?: string;
  network: "isolated" | "none";
  memoryMb: number;
  maxProcesses: number;
  maxOpenFiles: number;
  /** Extra environment for every command (config `sandboxEnv`). Never host secrets. */
  env?: Record<string, string>;
  log: Logger;
  /** Binary to run the agent with (node or a Bun/opencode binary); default: the current runtime. */
  runtime?: string;
}

export interface LocalDoctorReport {
  available: boolean;
  /** The preflight's message (with the fix) when not available. */
  problem?: string;
  root: string;
  network: "isolated" | "none";
  runtime?: string;
  privileges: string;
  limits: LimitsReport;
}

interface Running {
  launched: Launched;
  slirp?: Slirp;
  cgroups: string[];
  ended: Promise<void>;
}

const MiB = 1024 * 1024;
/** How often a sandbox start is tried before its error is reported. */
const START_ATTEMPTS = 3;
const isRoot = () => process.getuid?.() === 0;

export class LocalProvider implements SandboxProvider {
  readonly name = "local";
  readonly root: string;
  private readonly store: Store;
  private tools?: Promise<Tools>;
  private ready?: Promise<Tools>;
  private cgroupSupport?: Promise<CgroupSupport>;
  private readonly running = new Map<string, Running>();
  private readonly starting = new Map<string, Promise<void>>();
  private readonly previews = new Map<string, PreviewForwarder>();
  private warnedLimits = false;
  private exitHook?: () => void;

  constructor(private readonly options: LocalProviderOptions) {
    this.root = options.root ?? sandboxesDir();
    this.store = new Store(this.root);
    checkEnv(options.env);
  }

  // ---- preflight, start-up clean-up, limits --------------------------------------

  preflight(): Promise<void> {
    return this.checkTools().then(() => {});
  }

  private checkTools(): Promise<Tools> {
    if (!this.tools) {
      this.tools = preflight({ network: this.options.network, runtime: this.options.runtime });
      // A failed preflight is retried next time (the user may have installed the package).
      this.tools.catch(() => (this.tools = undefined));
    }
    return this.tools;
  }

  /** Preflight, then (once) clean what crashed processes left behind. */
  private init(): Promise<Tools> {
    if (!this.ready) {
      this.ready = (async () => {
        const tools = await this.checkTools();
        await this.store.ensureRoot();
        await this.cleanupStale();
        return tools;
      })();
      this.ready.catch(() => (this.ready = undefined));
    }
    return this.ready;
  }

  private cgroups(): Promise<CgroupSupport> {
    return (this.cgroupSupport ??= detectCgroups());
  }

  private cgroupName(id: string) {
    // Several roots (tests, users) share the cgroup bases: keep their groups apart.
    return `${id}-${createHash("sha256").update(this.root).digest("hex").slice(0, 8)}`;
  }

  /** What is and is not enforced on this machine, for the log and `doctor`. */
  async limits(): Promise<LimitsReport> {
    const limits = clampLimits(this.options);
    const support = await this.cgroups();
    const problem = (c: string) => support.problems.find((p) => p.startsWith(`${c}:`)) ?? `${c}: no usable cgroup`;
    const status = (requested: number, applied: number, enforced: boolean, detail: string): LimitStatus => ({ requested, applied, enforced, detail });
    const report: LimitsReport = {
      memoryMb: status(this.options.memoryMb, limits.memoryMb, !!support.memory,
        support.memory ? `cgroup v${support.memory.v} memory limit (${support.memory.base})` : `NOT enforced — ${problem("memory")}`),
      maxProcesses: status(this.options.maxProcesses, limits.maxProcesses, !!support.pids,
        support.pids ? `cgroup v${support.pids.v} pids.max (${support.pids.base})` : `NOT enforced — ${problem("pids")}`),
      maxOpenFiles: status(this.options.maxOpenFiles, limits.maxOpenFiles, true, `RLIMIT_NOFILE (clamped to the hard limit of this process)`),
      warnings: [],
    };
    if (!support.memory) report.warnings.push(`memory limit not enforced: ${problem("memory")}`);
    if (!support.pids) report.warnings.push(`process limit not enforced: ${problem("pids")}`);
    return report;
  }

  /** Everything a `doctor` command shows about local sandboxes on this machine. */
  async doctor(): Promise<LocalDoctorReport> {
    let tools: Tools | undefined;
    let problem: string | undefined;
    try {
      tools = await this.checkTools();
    } catch (error) {
      problem = (error as Error).message;
    }
    return {
      available: !!tools,
      problem,
      root: this.root,
      network: this.options.network,
      runtime: tools ? `${tools.runtime.path}${tools.runtime.bun ? " (Bun)" : ""}` : undefined,
      privileges: isRoot()
        ? "OpenCode runs as root: each sandbox runs as its own unprivileged host uid"
        : `sandboxes run as uid ${process.getuid?.()} (this user), inside their own user namespace`,
      limits: await this.limits(),
    };
  }

  private async cleanupStale() {
    for (const id of await this.store.ids()) {
      const owner = await this.store.readOwner(id);
      if (owner && alive(owner.owner)) continue; // another live process runs it
      if (this.running.has(id) || this.starting.has(id)) continue;
      if (await lockHeld(this.store, id)) continue; // another process is (re)starting it

      const meta = await this.store.readMeta(id);
      if (owner) {
        this.options.log.info(`local sandbox ${id}: cleaning up after a process that ended without stopping it`);
        await this.cleanupDead(id, owner, meta);
      } else await unlink(this.store.socketPath(id)).catch(() => {});
    }
    const support = await this.cgroups();
    await pruneEmptyCgroups(support).catch(() => {});
  }

  /** Leftovers of a sandbox whose owner is gone: processes, helpers, cgroups, socket. */
  private async cleanupDead(id: string, owner: Owner, meta: Meta | null) {
    killRef(owner.bwrap);
    killRef(owner.init);
    killRef(owner.slirp);
    // As root the uid is this sandbox's alone, so anything still running under it is a leftover.
    if (isRoot() && meta && meta.uid !== 0) for (const pid of pidsOfUid(meta.uid)) try { process.kill(pid, "SIGKILL"); } catch {}
    await removeCgroups(owner.cgroups);
    await unlink(this.store.socketPath(id)).catch(() => {});
    await this.store.removeOwner(id);
  }

  // ---- lifecycle --------------------------------------------------------------------

  async create(spec: CreateSpec): Promise<Sandbox> {
    await this.init();
    const id = spec.id ?? Store.newId();
    Store.checkId(id);
    const env = checkEnv(spec.env);
    let meta = await this.store.readMeta(id);
    if (meta) {
      meta = { ...meta, labels: { ...spec.labels }, env };
    } else {
      const uid = isRoot() ? await this.store.allocateUid(id) : process.getuid!();
      const gid = isRoot() ? uid : process.getgid!();
      meta = { version: 1, id, labels: { ...spec.labels }, env, uid, gid, createdAt: new Date().toISOString() };
      await this.store.layout(id, uid, gid);
    }
    await this.store.writeMeta(meta);
    await this.start(id);
    return this.handle(meta);
  }

  private async meta(id: string): Promise<Meta> {
    Store.checkId(id);
    const meta = await this.store.readMeta(id);
    if (!meta) throw new SandboxError("sandbox_not_found", `Sandbox ${id} not found`);
    return meta;
  }

  private async state(id: string): Promise<SandboxState> {
    if (this.running.has(id)) return "started";
    if (this.starting.has(id)) return "starting";
    const owner = await this.store.readOwner(id);
    if (owner && alive(owner.owner) && alive(owner.bwrap)) return "started";
    return "stopped";
  }

  async get(id: string): Promise<SandboxInfo> {
    const meta = await this.meta(id);
    return { id, state: await this.state(id), labels: { ...meta.labels } };
  }

  async list(labels: Record<string, string>): Promise<SandboxInfo[]> {
    const out: SandboxInfo[] = [];
    for (const id of await this.store.ids()) {
      const meta = await this.store.readMeta(id);
      if (!meta || !Object.entries(labels).every(([k, v]) => meta.labels[k] === v)) continue;
      out.push({ id, state: await this.state(id), labels: { ...meta.labels } });
    }
    return out;
  }

  async connect(id: string): Promise<Sandbox> {
    await this.init();
    const meta = await this.meta(id);
    await this.starting.get(id)?.catch(() => {});
    if ((await this.state(id)) !== "started") throw new SandboxError("not_running", `Sandbox ${id} is stopped`);
    await this.client(id).ping();
    return this.handle(meta);
  }

  start(id: string): Promise<void> {
    const pending = this.starting.get(id);
    if (pending) return pending;
    const p = this.doStart(id).finally(() => this.starting.delete(id));
    this.starting.set(id, p);
    return p;
  }

  private async doStart(id: string) {
    await this.init();
    const meta = await this.meta(id);
    if (this.running.has(id)) return;
    const release = await this.store.lock(id);
    try {
      const owner = await this.store.readOwner(id);
      if (owner && alive(owner.owner) && alive(owner.bwrap)) {
        // Another OpenCode process runs it: join rather than start a second one.
        await this.client(id).ping();
        return;
      }
      if (owner) await this.cleanupDead(id, owner, meta);
      await this.launch(meta);
    } finally {
      await release();
    }
  }

  private async launch(meta: Meta) {
    const { id } = meta;
    const tools = await this.init();
    const limits = clampLimits(this.options);
    const support = await this.cgroups();
    const cg = await createCgroups(support, this.cgroupName(id), limits.memoryMb * MiB, limits.maxProcesses);
    if (!this.warnedLimits) {
      this.warnedLimits = true;
      for (const problem of cg.problems)
        this.options.log.warn(`local sandbox limits: ${problem} — this limit is NOT enforced (see the limits report / doctor)`);
    }
    await this.store.layout(id, meta.uid, meta.gid);
    await unlink(this.store.socketPath(id)).catch(() => {});
    const dropPrivileges = isRoot();
    await this.store.agentFile(id);
    let launched: Launched | undefined;
    let slirp: Slirp | undefined;
    let slirpStarting: Promise<Slirp> | undefined;
    try {
      const spec: LaunchSpec = {
        id,
        dir: this.store.dir(id),
        // slirp4netns comes up while the agent starts (they are independent).
        onInit: (initPid: number) => {
          if (this.options.network !== "isolated") return;
          slirpStarting = startSlirp({ slirp4netns: tools.slirp4netns!, initPid, id });
          slirpStarting.catch(() => {});
        },
        runtime: tools.runtime,
        bwrap: tools.bwrap,
        uid: meta.uid,
        gid: meta.gid,
        dropPrivileges,
        network: this.options.network,
        cgroupProcs: cg.procs,
        maxOpenFiles: limits.maxOpenFiles,
      };
      // Seen under load: bwrap's loopback set-up in a fresh network namespace fails
      // now and then ("Failed RTM_NEWADDR"), once even twice in a row. Retry with a
      // short back-off; a real misconfiguration fails every time.
      for (let attempt = 1; ; attempt++) {
        try {
          launched = await launch(spec);
          break;
        } catch (error) {
          if (attempt === START_ATTEMPTS)
            throw error instanceof SandboxError
              ? new SandboxError(error.kind, `${error.message} (tried ${START_ATTEMPTS} times)`, { cause: error })
              : error;
          this.options.log.warn(`local sandbox ${id}: start failed (attempt ${attempt}), retrying: ${(error as Error).message}`);
          (await slirpStarting?.catch(() => undefined))?.stop();
          slirpStarting = undefined;
          await sleep(100 * attempt);
        }
      }
      if (slirpStarting) slirp = await slirpStarting;
    } catch (error) {
      (slirp ?? (await slirpStarting?.catch(() => undefined)))?.stop();
      if (launched) {
        launched.child.kill("SIGKILL");
        await launched.exited;
      }
      await removeCgroups(cg.dirs);
      throw error;
    }
    const owner: Owner = {
      owner: ref(process.pid)!,
      bwrap: ref(launched.child.pid!) ?? { pid: launched.child.pid!, start: -1 },
      init: ref(launched.initPid) ?? undefined,
      slirp: slirp?.child.pid ? (ref(slirp.child.pid) ?? undefined) : undefined,
      cgroups: cg.dirs,
    };
    await this.store.writeOwner(id, owner);
    let ended!: () => void;
    const entry: Running = { launched, slirp, cgroups: cg.dirs, ended: new Promise((r) => (ended = r)) };
    this.running.set(id, entry);
    this.installExitHook();
    launched.exited.then(async (how) => {
      this.running.delete(id);
      this.options.log.info(`local sandbox ${id} ended (${how})`);
      entry.slirp?.stop();
      await this.closePreviews(id);
      await removeCgroups(entry.cgroups);
      const current = await this.store.readOwner(id);
      if (current && current.owner.pid === process.pid) {
        await this.store.removeOwner(id);
        await unlink(this.store.socketPath(id)).catch(() => {});
      }
      ended();
    });
    this.options.log.info(`local sandbox ${id} started (uid ${meta.uid}, network ${this.options.network}, agent ${tools.runtime.path})`);
  }

  async stop(id: string): Promise<void> {
    await this.meta(id);
    await this.starting.get(id)?.catch(() => {});
    const entry = this.running.get(id);
    if (entry) {
      await this.client(id).shutdown().catch(() => {});
      const ended = await Promise.race([entry.ended.then(() => true), sleep(3000).then(() => false)]);
      if (!ended) {
        entry.launched.child.kill("SIGKILL");
        await entry.ended;
      }
      // The namespace's last processes are reaped a moment after bwrap exits.
      const init = ref(entry.launched.initPid);
      for (let i = 0; i < 100 && alive(init); i++) await sleep(10);
      return;
    }
    await this.closePreviews(id);
    const owner = await this.store.readOwner(id);
    if (!owner) return;
    if (alive(owner.owner) && alive(owner.bwrap)) {
      // Owned by another process: the agent ends everything inside; the owner tidies up.
      await this.client(id).shutdown().catch(() => {});
      const deadline = Date.now() + 3000;
      while (alive(owner.bwrap) && Date.now() < deadline) await sleep(20);
      killRef(owner.bwrap);
      killRef(owner.init);
      return;
    }
    // Its owner died: tidy up under the start lock, so a concurrent restart is not hit.
    const release = await this.store.lock(id);
    try {
      const current = await this.store.readOwner(id);
      if (current && !alive(current.owner)) await this.cleanupDead(id, current, await this.store.readMeta(id));
    } finally {
      await release();
    }
  }

  async delete(id: string): Promise<void> {
    Store.checkId(id);
    const meta = await this.store.readMeta(id);
    if (meta) await this.stop(id).catch((e) => this.options.log.warn(`local sandbox ${id}: stop before delete failed: ${(e as Error).message}`));
    if (meta && isRoot() && meta.uid !== 0) for (const pid of pidsOfUid(meta.uid)) try { process.kill(pid, "SIGKILL"); } catch {}
    await this.removeTree(id);
    if (meta && isRoot()) await this.store.freeUid(meta.uid);
  }

  private async removeTree(id: string) {
    try {
      await this.store.removeDir(id);
    } catch {
      // Read-only directories the sandbox made (Go's module cache…) stop rm as a normal user.
      await new Promise<void>((resolve) => {
        const child = spawn("chmod", ["-R", "u+rwX", this.store.dir(id)], { stdio: "ignore" });
        child.on("close", () => resolve());
        child.on("error", () => resolve());
      });
      await this.store.removeDir(id);
    }
  }

  async dispose(): Promise<void> {
    const entries = [...this.running.entries()];
    for (const [, entry] of entries) {
      entry.launched.child.kill("SIGKILL");
      entry.slirp?.stop();
    }
    await Promise.all(entries.map(([, e]) => Promise.race([e.ended, sleep(3000)])));
    for (const id of [...this.previews.keys()]) await this.closePreviews(id);
    if (this.exitHook) process.removeListener("exit", this.exitHook);
    this.exitHook = undefined;
  }

  // ---- handles ----------------------------------------------------------------------

  private client(id: string) {
    return new AgentClient(this.store.socketPath(id), id);
  }

  private handle(meta: Meta): Sandbox {
    const client = this.client(meta.id);
    const env = { ...baseEnv(), ...checkEnv(this.options.env), ...meta.env };
    return new LocalSandbox(meta.id, client, () => env, () => {
      let forwarder = this.previews.get(meta.id);
      if (!forwarder) this.previews.set(meta.id, (forwarder = new PreviewForwarder(client)));
      return forwarder;
    });
  }

  private async closePreviews(id: string) {
    const forwarder = this.previews.get(id);
    this.previews.delete(id);
    await forwarder?.close();
  }

  /** OpenCode exiting without dispose(): end our sandboxes synchronously. */
  private installExitHook() {
    if (this.exitHook) return;
    this.exitHook = () => {
      for (const [id, entry] of this.running) {
        try {
          entry.launched.child.kill("SIGKILL");
        } catch {}
        entry.slirp?.stop();
        try {
          unlinkSync(this.store.ownerPath(id));
        } catch {}
      }
    };
    process.on("exit", this.exitHook);
  }
}


