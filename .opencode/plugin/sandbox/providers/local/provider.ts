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
import { createHash } from "node:crypto";
import { unlinkSync } from "node:fs";
import { unlink } from "node:fs/promises";
import { SandboxError, type CreateSpec, type Diagnosis, type DiskUsage, type ProviderLog, type Sandbox, type SandboxInfo, type SandboxProvider, type SandboxState } from "../provider.js";
import { alive, ref, type ProcessRef } from "../../util/process-ref.js";
import { detectCgroups, removeCgroups, type CgroupSupport } from "./cgroups.js";
import type { ChannelLimits } from "./channel-limits.js";
import { AgentClient } from "./client.js";
import { diagnosis, limitsReport } from "./diagnose.js";
import { diskUsed } from "./disk.js";
import { uninstallLocal } from "./uninstall.js";
import { baseEnv, checkEnv } from "./env.js";
import type { Launched } from "./launch.js";
import { clampLimits, type LimitsReport, type LimitsRequest } from "./limits.js";
import type { Slirp } from "./network.js";
import { preflight, type Tools } from "./preflight.js";
import { PreviewForwarders } from "./preview.js";
import { killRef, sleep } from "./proc.js";
import { LocalSandbox } from "./sandbox.js";
import { cleanupDead, cleanupStale, killUid } from "./stale.js";
import { bringUp } from "./start.js";
import { egressEnv, type Egress } from "./egress.js";
import { ending, waitEnded, type Ending } from "./ended.js";
import { makePolicy, type EgressPolicy, type NetworkMode } from "./egress-policy.js";
import type { EgressBlocked, Resolve } from "./egress-proxy.js";
import { Store, type Meta, type Owner } from "./store.js";
import { createVolume, lendRunDir, mountVolume, takeBackRunDir, unmountOrphans, unmountVolume, volumeUnsupported } from "./volume.js";

export interface LocalProviderOptions extends LimitsRequest {
  /** Where workspaces and run directories live. */
  root: string;
  network: NetworkMode;
  /** network "allowlist": the domains the sandbox may reach (`name`, or `*.name` for every name below it). */
  allowDomains?: string[];
  /** Private or link-local networks (CIDR or address) the sandbox may reach anyway. */
  allowCidrs?: string[];
  /** A connection the egress policy refused (sandbox id, its labels and what was refused). */
  onEgressBlocked?: (event: EgressBlocked & { sandboxId: string; labels: Record<string, string> }) => void;
  /** Tests: how the allowlist proxy resolves names (default: the system's resolver). */
  resolve?: Resolve;
  memoryMb: number;
  maxProcesses: number;
  maxOpenFiles: number;
  /** Extra environment for every command (config `sandboxEnv`). Never host secrets. */
  env?: Record<string, string>;
  log: ProviderLog;
  /** Binary to run the agent with (node or a Bun/opencode binary); default: the current runtime. */
  runtime?: string;
  /** Deadlines and caps of the host–agent channel (tests shorten them); default DEFAULT_CHANNEL_LIMITS. */
  channel?: Partial<ChannelLimits>;
}

interface Running {
  launched: Launched;
  slirp?: Slirp;
  egress?: Egress;
  cgroups: string[];
  /** bubblewrap, as /proc knows it (its end is seen there when its exit event does not come). */
  bwrap: ProcessRef | null;
  ending: Ending;
}

const isRoot = () => process.getuid?.() === 0;
/** A killed bubblewrap ends at once; this bounds a stop that would otherwise wait on a process the kernel holds. */
const KILLED_END_MS = 10_000;

export class LocalProvider implements SandboxProvider {
  readonly name = "local";
  readonly root: string;
  private readonly store: Store;
  private tools?: Promise<Tools>;
  private ready?: Promise<Tools>;
  private cgroupSupport?: Promise<CgroupSupport>;
  private readonly running = new Map<string, Running>();
  private readonly starting = new Map<string, Promise<void>>();
  private readonly previews: PreviewForwarders;
  private warnedLimits = false;
  private readonly warnedUncapped = new Set<string>();
  private exitHook?: () => void;

  constructor(private readonly options: LocalProviderOptions) {
    this.root = options.root;
    this.store = new Store(this.root);
    this.previews = new PreviewForwarders(options.channel);
    checkEnv(options.env);
    try {
      this.policy();
    } catch (error) {
      throw new SandboxError("bad_input", `local.allowCidrs: ${(error as Error).message}`);
    }
  }

  // ---- preflight, start-up clean-up, diagnosis -------------------------------------

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
        await cleanupStale(this.store, (id) => this.running.has(id) || this.starting.has(id), await this.cgroups(), this.options.log);
        await unmountOrphans(this.root, this.options.log);
        return tools;
      })();
      this.ready.catch(() => (this.ready = undefined));
    }
    return this.ready;
  }

  private policy(): EgressPolicy {
    return makePolicy({ mode: this.options.network, allowDomains: this.options.allowDomains, allowCidrs: this.options.allowCidrs });
  }

  private cgroups(): Promise<CgroupSupport> {
    return (this.cgroupSupport ??= detectCgroups());
  }

  private cgroupName(id: string) {
    // Several roots (tests, users) share the cgroup bases: keep their groups apart.
    return `${id}-${this.rootTag()}`;
  }

  private rootTag() {
    return createHash("sha256").update(this.root).digest("hex").slice(0, 8);
  }

  /**
   * Once every sandbox is deleted: removes what this provider made on the machine —
   * mounts below its root, this root's cgroups, uid reservations, the root itself.
   */
  async uninstall(): Promise<string[]> {
    const left = await this.store.ids();
    if (left.length) throw new SandboxError("bad_input", `${left.length} local sandbox(es) still exist (${left.join(", ")}): delete them first`);
    return uninstallLocal(this.root, await this.cgroups(), (name) => name.endsWith(`-${this.rootTag()}`));
  }

  /** What is and is not enforced on this machine. */
  async limits(): Promise<LimitsReport> {
    const tools = await this.checkTools().catch(() => undefined);
    return limitsReport(this.options, { support: await this.cgroups(), volumeUnsupported: volumeUnsupported(), tmpfsSize: tools?.tmpfsSize });
  }

  async diagnose(): Promise<Diagnosis> {
    const tools = await this.checkTools().catch((error: Error) => error);
    return diagnosis({ tools, root: this.root, network: this.options.network, limits: await this.limits() });
  }

  // ---- lifecycle --------------------------------------------------------------------

  async create(spec: CreateSpec): Promise<Sandbox> {
    await this.init();
    const id = spec.id ?? Store.newId();
    Store.checkId(id);
    const env = checkEnv(spec.env);
    let meta = await this.store.readMeta(id);
    let fresh = false;
    if (meta) {
      meta = { ...meta, labels: { ...spec.labels }, env };
    } else {
      const uid = isRoot() ? await this.store.allocateUid(id) : process.getuid!();
      const gid = isRoot() ? uid : process.getgid!();
      meta = { version: 1, id, labels: { ...spec.labels }, env, uid, gid, createdAt: new Date().toISOString() };
      await this.store.layout(id, uid, gid);
      fresh = true;
    }
    await this.store.writeMeta(meta);
    // After meta.json: a mounted disk without one is an orphan (volume.ts unmountOrphans).
    if (fresh && !volumeUnsupported()) {
      const { diskMiB, inodes } = clampLimits(this.options);
      await createVolume(this.store.dir(id), meta.uid, meta.gid, { sizeMiB: diskMiB, inodes }).catch((e: Error) =>
        this.options.log.warn(`local sandbox ${id}: its disk use is NOT capped — ${e.message}`),
      );
    }
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
    return this.info(await this.meta(id));
  }

  async list(labels: Record<string, string>): Promise<SandboxInfo[]> {
    const out: SandboxInfo[] = [];
    for (const id of await this.store.ids()) {
      const meta = await this.store.readMeta(id);
      if (!meta || !Object.entries(labels).every(([k, v]) => meta.labels[k] === v)) continue;
      out.push(await this.info(meta));
    }
    return out;
  }

  /**
   * A running sandbox is in use now; a stopped one was last used when it ended (or
   * last started, when its owner died without noting the end).
   */
  private async info(meta: Meta): Promise<SandboxInfo> {
    const { id } = meta;
    const state = await this.state(id);
    const lastActivityAt = state === "started" ? new Date().toISOString() : ((await this.store.lastActive(id)) ?? meta.createdAt);
    return { id, state, labels: { ...meta.labels }, createdAt: meta.createdAt, lastActivityAt };
  }

  async diskUsage(id: string): Promise<DiskUsage> {
    await this.meta(id);
    return { usedBytes: await diskUsed(this.store.dir(id)) };
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
      if (owner) await cleanupDead(this.store, id, owner, meta);
      await this.launch(meta);
    } finally {
      await release();
    }
  }

  private async launch(meta: Meta) {
    const { id } = meta;
    const tools = await this.init();
    await this.store.layout(id, meta.uid, meta.gid);
    await unlink(this.store.socketPath(id)).catch(() => {});
    await unlink(this.store.boundSocketPath(id)).catch(() => {});
    await this.store.agentFile(id);
    const socket = { bound: this.store.boundSocketPath(id), host: this.store.socketPath(id) };
    const dir = this.store.dir(id);
    const volume = await mountVolume(dir);
    if (!volume && !volumeUnsupported() && !this.warnedUncapped.has(id)) {
      this.warnedUncapped.add(id);
      this.options.log.warn(`local sandbox ${id} was made before sandboxes had a disk of their own: its disk use is NOT capped (delete it to get a capped one)`);
    }
    if (isRoot()) await lendRunDir(dir, meta.uid, meta.gid);
    const { launched, slirp, egress, cgroups, problems } = await bringUp({
      spec: { id, dir, uid: meta.uid, gid: meta.gid, dropPrivileges: isRoot(), socket, volume },
      cgroupName: this.cgroupName(id),
      tools,
      network: this.options.network,
      egress: {
        // The host's addresses are read at each start: they change (Wi-Fi, VPN).
        policy: this.policy(),
        onBlocked: (event) => this.options.onEgressBlocked?.({ ...event, sandboxId: id, labels: { ...meta.labels } }),
        resolve: this.options.resolve,
      },
      limits: this.options,
      support: await this.cgroups(),
      log: this.options.log,
    });
    if (isRoot()) await takeBackRunDir(dir);
    if (!this.warnedLimits) {
      this.warnedLimits = true;
      for (const problem of problems) this.options.log.warn(`local sandbox limits: ${problem} — this limit is NOT enforced (see the diagnosis / doctor)`);
    }
    const owner: Owner = {
      owner: ref(process.pid)!,
      bwrap: ref(launched.child.pid!) ?? { pid: launched.child.pid!, start: -1 },
      init: ref(launched.initPid) ?? undefined,
      slirp: slirp?.child.pid ? (ref(slirp.child.pid) ?? undefined) : undefined,
      cgroups,
    };
    await this.store.writeOwner(id, owner);
    await this.store.markActive(id);
    const entry: Running = {
      launched,
      slirp,
      egress,
      cgroups,
      bwrap: ref(launched.child.pid!),
      ending: ending(
        async (how) => {
          this.running.delete(id);
          await this.store.markActive(id);
          this.options.log.info(`local sandbox ${id} ended (${how})`);
          entry.slirp?.stop();
          await entry.egress?.close();
          await this.previews.close(id);
          await removeCgroups(entry.cgroups);
          const current = await this.store.readOwner(id);
          if (current && current.owner.pid === process.pid) {
            await this.store.removeOwner(id);
            await unlink(this.store.socketPath(id)).catch(() => {});
          }
        },
        (error) => this.options.log.warn(`local sandbox ${id}: tidying up after its end failed: ${error.message}`),
      ),
    };
    this.running.set(id, entry);
    this.installExitHook();
    void launched.exited.then((how) => entry.ending.end(how));
    this.options.log.info(`local sandbox ${id} started (uid ${meta.uid}, network ${this.options.network}, agent ${tools.runtime.path})`);
  }

  /**
   * Always finishes: the agent is asked to end everything (a bounded request); when it
   * does not answer, or its sandbox does not end, the host kills bubblewrap, the
   * sandbox's init (its pid namespace goes with it) and, as root, every process of the
   * sandbox's own uid.
   */
  async stop(id: string): Promise<void> {
    const meta = await this.meta(id);
    await this.starting.get(id)?.catch(() => {});
    const entry = this.running.get(id);
    if (entry) {
      const answered = await this.client(id).shutdown().then(() => true, () => false);
      if (!(answered && (await waitEnded(entry.ending, entry.bwrap, 3000)))) {
        this.options.log.info(`local sandbox ${id} did not end when asked${answered ? " within 3 s" : " (its agent did not answer)"}; killing it`);
        entry.launched.child.kill("SIGKILL");
        killRef(ref(entry.launched.initPid));
        if (isRoot() && meta.uid !== 0) killUid(meta.uid);
        if (!(await waitEnded(entry.ending, entry.bwrap, KILLED_END_MS)))
          this.options.log.warn(`local sandbox ${id}: bubblewrap (pid ${entry.launched.child.pid}) still runs ${KILLED_END_MS / 1000} s after SIGKILL; going on without it`);
      }
      // The namespace's last processes are reaped a moment after bwrap exits.
      const init = ref(entry.launched.initPid);
      for (let i = 0; i < 100 && alive(init); i++) await sleep(10);
      return;
    }
    await this.previews.close(id);
    const owner = await this.store.readOwner(id);
    if (!owner) return;
    if (alive(owner.owner) && alive(owner.bwrap)) {
      // Owned by another process: the agent ends everything inside; the owner tidies up.
      const answered = await this.client(id).shutdown().then(() => true, () => false);
      const deadline = Date.now() + 3000;
      while (answered && alive(owner.bwrap) && Date.now() < deadline) await sleep(20);
      killRef(owner.bwrap);
      killRef(owner.init);
      if (isRoot() && meta.uid !== 0) killUid(meta.uid);
      return;
    }
    // Its owner died: tidy up under the start lock, so a concurrent restart is not hit.
    const release = await this.store.lock(id);
    try {
      const current = await this.store.readOwner(id);
      if (current && !alive(current.owner)) await cleanupDead(this.store, id, current, await this.store.readMeta(id));
    } finally {
      await release();
    }
  }

  async delete(id: string): Promise<void> {
    Store.checkId(id);
    const meta = await this.store.readMeta(id);
    if (meta) await this.stop(id).catch((e) => this.options.log.warn(`local sandbox ${id}: stop before delete failed: ${(e as Error).message}`));
    if (meta && isRoot() && meta.uid !== 0) killUid(meta.uid);
    // Files that cannot go now never keep the id, the uid or a session's mapping taken:
    // they wait out of reach in .trash, reported here, and are removed at a later start or delete.
    await unmountVolume(this.store.dir(id)).catch((e: Error) => this.options.log.warn(`local sandbox ${id}: ${e.message}`));
    const removal = await this.store.removeDir(id);
    if (meta && isRoot()) await this.store.freeUid(meta.uid);
    if (!removal.removed)
      this.options.log.warn(`local sandbox ${id} deleted, but not all its files could be removed (${removal.why}); they wait in ${this.store.trashDir()} and are tried again at the next start or delete`);
  }

  async dispose(): Promise<void> {
    const entries = [...this.running.entries()];
    for (const [, entry] of entries) {
      entry.launched.child.kill("SIGKILL");
      entry.slirp?.stop();
    }
    await Promise.all(entries.map(([, e]) => waitEnded(e.ending, e.bwrap, 3000)));
    await this.previews.closeAll();
    if (this.exitHook) process.removeListener("exit", this.exitHook);
    this.exitHook = undefined;
  }

  // ---- handles ----------------------------------------------------------------------

  private client(id: string) {
    return new AgentClient(this.store.socketPath(id), id, this.options.channel);
  }

  private handle(meta: Meta): Sandbox {
    const client = this.client(meta.id);
    const env = { ...baseEnv(), ...egressEnv(this.options.network), ...checkEnv(this.options.env), ...meta.env };
    return new LocalSandbox(meta.id, client, () => env, () => this.previews.for(meta.id, client));
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


