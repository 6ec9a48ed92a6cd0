/**
 * The control plane's records and their state machine, following apps/api
 * (sandbox.service.ts, v0.190). The endpoints and DTOs are in api.ts.
 *
 * Each record is backed by a real local bubblewrap sandbox with the same id: started ⇔
 * the local sandbox runs; stop ends its processes and keeps its files; delete removes it.
 * Transitions take at least the configured time, so concurrent callers really race:
 * creating → started, stopped → starting → started, started → stopping → stopped,
 * stopped → archiving → archived, archived → restoring → started (slower),
 * any → destroying → destroyed (then 404), and error (with errorReason) when the backing
 * sandbox fails. While a transition runs the record is "pending" and lifecycle calls get
 * 409 "Sandbox state change in progress", as in the real service.
 */
import { randomBytes, randomUUID } from "node:crypto";
import type { LocalProvider } from "../../../.opencode/plugin/sandbox/providers/local/index.js";
import type { Sandbox } from "../../../.opencode/plugin/sandbox/providers/provider.js";

export type SandboxStateName =
  | "creating" | "starting" | "started" | "stopping" | "stopped" | "archiving" | "archived"
  | "restoring" | "destroying" | "destroyed" | "error";

export interface Timings {
  /** creating → started lasts at least this (default 1000). */
  creatingMs: number;
  /** stopped → started lasts at least this (default 1000). */
  startingMs: number;
  /** archived → started lasts at least this (default 3000). */
  restoringMs: number;
  stoppingMs: number;
  archivingMs: number;
  destroyingMs: number;
  /** POST /sandbox and POST /start wait up to this for `started` before answering (Daytona: 30 s). */
  answerWaitMs: number;
}

export interface StandinSandbox {
  id: string;
  name: string;
  organizationId: string;
  user: string;
  env: Record<string, string>;
  labels: Record<string, string>;
  public: boolean;
  networkBlockAll: boolean;
  networkAllowList?: string;
  domainAllowList?: string;
  target: string;
  snapshot?: string;
  buildInfo?: unknown;
  cpu: number;
  gpu: number;
  memory: number;
  disk: number;
  autoStopInterval: number;
  autoArchiveInterval: number;
  autoDeleteInterval: number;
  state: SandboxStateName;
  desiredState: "started" | "stopped" | "archived" | "destroyed";
  errorReason?: string;
  recoverable: boolean;
  /** The private preview token; Daytona issues a new one on every start. */
  authToken: string;
  createdAt: string;
  updatedAt: string;
  /** The create request body exactly as the client sent it. */
  createRequest: Record<string, unknown>;
  /** The backing local sandbox while it runs. */
  local?: Sandbox;
  /** Increases on every start: what lived in one boot (sessions) is gone in the next. */
  boot: number;
  /** A transition is in flight. */
  pending: boolean;
}

export interface SignedPreview {
  sandboxId: string;
  port: number;
  expiresAt: number;
}

export interface ControlPlaneOptions {
  provider: LocalProvider;
  timings: Timings;
  organizationId: string;
  target: string;
  /** Called when a boot ends (stop, delete, vanish): sessions of that boot are forgotten. */
  onBootEnded(sandbox: StandinSandbox): void;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const now = () => new Date().toISOString();

export class ControlPlane {
  /** Every record ever created, destroyed ones included (for inspection). */
  readonly sandboxes = new Map<string, StandinSandbox>();
  readonly signedPreviews = new Map<string, SignedPreview>();
  private readonly work = new Set<Promise<unknown>>();

  constructor(private readonly o: ControlPlaneOptions) {}

  get timings(): Timings {
    return this.o.timings;
  }

  /** Live (not destroyed) record by id, then by name — like findOneByIdOrName. */
  find(idOrName: string): StandinSandbox | undefined {
    const byId = this.sandboxes.get(idOrName);
    if (byId && byId.state !== "destroyed") return byId;
    for (const s of this.sandboxes.values()) if (s.name === idOrName && s.state !== "destroyed") return s;
    return undefined;
  }

  /** Waits for transitions in flight (used by close()). */
  async settle(): Promise<void> {
    while (this.work.size) await Promise.allSettled([...this.work]);
  }

  // ---- transitions -----------------------------------------------------------------

  private set(sb: StandinSandbox, state: SandboxStateName) {
    sb.state = state;
    sb.updatedAt = now();
    this.changed();
  }

  private waiters = new Set<() => void>();
  private changed() {
    for (const w of [...this.waiters]) w();
  }

  /** Resolves when `check` holds or after `ms`. */
  waitFor(check: () => boolean, ms: number): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(w);
        resolve();
      };
      const w = () => check() && done();
      const timer = setTimeout(done, ms);
      this.waiters.add(w);
    });
  }

  /** Runs `work` for at least `minMs` in state `during`, then settles in `after` (or error). */
  private transition(sb: StandinSandbox, during: SandboxStateName, minMs: number, work: () => Promise<void>, after: SandboxStateName) {
    sb.pending = true;
    this.set(sb, during);
    const p = (async () => {
      try {
        await Promise.all([work(), sleep(minMs)]);
        if (sb.state === during) this.set(sb, after);
      } catch (error) {
        if (sb.state === during) {
          sb.errorReason = (error as Error).message;
          sb.recoverable = true;
          sb.local = undefined;
          this.set(sb, "error");
        }
      } finally {
        sb.pending = false;
        this.changed();
      }
    })();
    this.work.add(p);
    void p.finally(() => this.work.delete(p));
    return p;
  }

  private async bootLocal(sb: StandinSandbox, fresh: boolean) {
    if (fresh) sb.local = await this.o.provider.create({ id: sb.id, labels: { "daytona-standin": "1" }, env: sb.env });
    else {
      await this.o.provider.start(sb.id);
      sb.local = await this.o.provider.connect(sb.id);
    }
    sb.boot++;
    sb.authToken = randomBytes(16).toString("hex");
  }

  private async stopLocal(sb: StandinSandbox) {
    sb.local = undefined;
    this.o.onBootEnded(sb);
    await this.o.provider.stop(sb.id);
  }

  async create(body: Record<string, unknown>): Promise<StandinSandbox> {
    const id = randomUUID();
    const b = body as {
      name?: string; user?: string; env?: Record<string, string>; labels?: Record<string, string>; public?: boolean;
      networkBlockAll?: boolean; networkAllowList?: string; domainAllowList?: string; target?: string; snapshot?: string;
      buildInfo?: unknown; cpu?: number; gpu?: number; memory?: number; disk?: number; autoStopInterval?: number;
      autoArchiveInterval?: number; autoDeleteInterval?: number;
    };
    const at = now();
    const sb: StandinSandbox = {
      id,
      name: b.name || id,
      organizationId: this.o.organizationId,
      user: b.user || "daytona",
      env: { ...(b.env ?? {}) },
      labels: { ...(b.labels ?? {}) },
      public: b.public ?? false,
      networkBlockAll: b.networkBlockAll ?? false,
      networkAllowList: b.networkAllowList,
      domainAllowList: b.domainAllowList,
      target: b.target || this.o.target,
      snapshot: b.buildInfo ? undefined : (b.snapshot ?? "daytonaio/sandbox:standin"),
      buildInfo: b.buildInfo,
      cpu: b.cpu ?? 1,
      gpu: b.gpu ?? 0,
      memory: b.memory ?? 1,
      disk: b.disk ?? 3,
      autoStopInterval: b.autoStopInterval ?? 15,
      autoArchiveInterval: b.autoArchiveInterval ?? 10080,
      autoDeleteInterval: b.autoDeleteInterval ?? -1,
      state: "creating",
      desiredState: "started",
      recoverable: false,
      authToken: randomBytes(16).toString("hex"),
      createdAt: at,
      updatedAt: at,
      createRequest: structuredClone(body),
      boot: 0,
      pending: true,
    };
    this.sandboxes.set(id, sb);
    void this.transition(sb, "creating", this.o.timings.creatingMs, () => this.bootLocal(sb, true), "started");
    return sb;
  }

  start(sb: StandinSandbox): Promise<void> {
    sb.desiredState = "started";
    sb.errorReason = undefined;
    const restoring = sb.state === "archived";
    return this.transition(sb, restoring ? "restoring" : "starting", restoring ? this.o.timings.restoringMs : this.o.timings.startingMs,
      () => this.bootLocal(sb, false), "started");
  }

  stop(sb: StandinSandbox): Promise<void> {
    sb.desiredState = "stopped";
    return this.transition(sb, "stopping", this.o.timings.stoppingMs, () => this.stopLocal(sb), "stopped");
  }

  archive(sb: StandinSandbox): Promise<void> {
    sb.desiredState = "archived";
    return this.transition(sb, "archiving", this.o.timings.archivingMs, async () => {}, "archived");
  }

  destroy(sb: StandinSandbox): Promise<void> {
    sb.desiredState = "destroyed";
    // The soft delete renames it, so the name is free at once.
    sb.name = `DESTROYED_${sb.name}_${Date.now()}`;
    return this.transition(sb, "destroying", this.o.timings.destroyingMs, async () => {
      sb.local = undefined;
      this.o.onBootEnded(sb);
      await this.o.provider.delete(sb.id);
    }, "destroyed");
  }

  /** The sandbox disappears underneath its users (no transition, no 409 window). */
  async vanish(sb: StandinSandbox): Promise<void> {
    sb.desiredState = "destroyed";
    sb.local = undefined;
    this.set(sb, "destroyed");
    this.o.onBootEnded(sb);
    await this.o.provider.delete(sb.id).catch(() => {});
  }

  /** The platform puts the sandbox in `error` (its processes end); `recover` brings it back. */
  async fail(sb: StandinSandbox, reason: string, recoverable = true): Promise<void> {
    sb.errorReason = reason;
    sb.recoverable = recoverable;
    const local = sb.local;
    sb.local = undefined;
    this.set(sb, "error");
    if (local) {
      this.o.onBootEnded(sb);
      await this.o.provider.stop(sb.id).catch(() => {});
    }
  }
}
