/**
 * The control plane: sandbox records, their state machine and the `/api/sandbox…`
 * endpoints, following apps/api (sandbox.controller.ts / sandbox.service.ts, v0.190) for
 * semantics and the pinned @daytona/api-client 0.218 for paths and shapes.
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
import { apiError, json, readJson, type HandlerResult, type Reply } from "./http.js";

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
  toolboxProxyUrl: string;
  /** Base of preview URLs: `${previewBase}/${idOrSignedToken}/${port}`. */
  previewBase: string;
  /** Whether DTOs carry toolboxProxyUrl (false makes the SDK call GET …/toolbox-proxy-url). */
  dtoHasToolboxProxyUrl: boolean;
  daemonVersion?: string;
  /** Called when a boot ends (stop, delete, vanish): sessions of that boot are forgotten. */
  onBootEnded(sandbox: StandinSandbox): void;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const now = () => new Date().toISOString();
const LIFECYCLE_CONFLICT = "Sandbox state change in progress";

export class ControlPlane {
  /** Every record ever created, destroyed ones included (for inspection). */
  readonly sandboxes = new Map<string, StandinSandbox>();
  readonly signedPreviews = new Map<string, SignedPreview>();
  private readonly work = new Set<Promise<unknown>>();

  constructor(private readonly o: ControlPlaneOptions) {}

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
  private waitFor(check: () => boolean, ms: number): Promise<void> {
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

  // ---- DTOs ----------------------------------------------------------------------

  listItem(sb: StandinSandbox): Record<string, unknown> {
    return {
      id: sb.id,
      organizationId: sb.organizationId,
      name: sb.name,
      target: sb.target,
      runnerId: "standin-runner",
      sandboxClass: "container",
      state: sb.state,
      desiredState: sb.desiredState,
      snapshot: sb.snapshot,
      user: sb.user,
      errorReason: sb.errorReason,
      recoverable: sb.recoverable,
      public: sb.public,
      networkBlockAll: sb.networkBlockAll,
      networkAllowList: sb.networkAllowList,
      domainAllowList: sb.domainAllowList,
      cpu: sb.cpu,
      gpu: sb.gpu,
      memory: sb.memory,
      disk: sb.disk,
      labels: { ...sb.labels },
      backupState: "None",
      autoStopInterval: sb.autoStopInterval,
      autoArchiveInterval: sb.autoArchiveInterval,
      autoDeleteInterval: sb.autoDeleteInterval,
      createdAt: sb.createdAt,
      updatedAt: sb.updatedAt,
      ...(this.o.daemonVersion ? { daemonVersion: this.o.daemonVersion } : {}),
      ...(this.o.dtoHasToolboxProxyUrl ? { toolboxProxyUrl: this.o.toolboxProxyUrl } : {}),
    };
  }

  dto(sb: StandinSandbox): Record<string, unknown> {
    return { ...this.listItem(sb), env: { ...sb.env }, volumes: [], buildInfo: sb.buildInfo };
  }

  // ---- endpoints -----------------------------------------------------------------

  /** Handles a request under the API base (`path` is relative to it, e.g. `/sandbox/x/start`). */
  async handle(method: string, path: string, url: URL, fullUrl: string, req: import("node:http").IncomingMessage): Promise<HandlerResult> {
    const notFound = (idOrName: string) => apiError(404, `Sandbox with ID or name ${idOrName} not found`, fullUrl);
    const seg = path.split("/").filter(Boolean).map(decodeURIComponent);
    if (seg[0] !== "sandbox") return apiError(404, `Cannot ${method} ${url.pathname}`, fullUrl);

    if (seg.length === 1 && method === "POST") return this.createEndpoint((await readJson<Record<string, unknown>>(req)) ?? {}, fullUrl);
    if (seg.length === 1 && method === "GET") return this.listEndpoint(url);

    const idOrName = seg[1]!;
    const sb = this.find(idOrName);
    const rest = seg.slice(2);
    const route = `${method} ${rest.map((s, i) => (i === 1 && (rest[0] === "ports" || /^auto/.test(rest[0]!)) ? ":n" : s)).join("/")}`;

    if (!sb) {
      await readJson(req).catch(() => undefined);
      return notFound(idOrName);
    }
    const conflict = () => apiError(409, LIFECYCLE_CONFLICT, fullUrl);
    const badRequest = (m: string) => apiError(400, m, fullUrl);

    switch (route) {
      case "GET ":
        return json(200, this.dto(sb));
      case "DELETE ":
        if (sb.pending) return conflict();
        void this.destroy(sb);
        return json(200, this.dto(sb));
      case "POST start": {
        if (sb.state === "started" && sb.desiredState === "started") return json(200, this.dto(sb));
        if (sb.state === "error") return badRequest("Sandbox is in an errored state");
        if (sb.pending || sb.state !== sb.desiredState) return conflict();
        if (sb.state !== "stopped" && sb.state !== "archived") return badRequest("Sandbox is not in valid state");
        void this.start(sb);
        if ((sb.state as SandboxStateName) !== "restoring") await this.waitFor(() => sb.state !== "starting", this.o.timings.answerWaitMs);
        return json(200, this.dto(sb));
      }
      case "POST stop":
        if (sb.state === "error") return badRequest("Sandbox is in an errored state");
        if (sb.pending || sb.state !== sb.desiredState) return conflict();
        if (sb.state !== "started") return badRequest("Sandbox is not in a stoppable state");
        void this.stop(sb);
        return json(200, this.dto(sb));
      case "POST archive":
        if (sb.state === "error") return badRequest("Sandbox is in an errored state");
        if (sb.pending || sb.state !== sb.desiredState) return conflict();
        if (sb.state !== "stopped") return badRequest("Sandbox is not stopped");
        void this.archive(sb);
        return json(200, this.dto(sb));
      case "POST recover":
        if (!sb.recoverable || sb.state !== "error") return badRequest("Sandbox is not in a recoverable state");
        sb.recoverable = false;
        void this.start(sb);
        await this.waitFor(() => sb.state !== "starting", this.o.timings.answerWaitMs);
        return json(200, this.dto(sb));
      case "PUT labels": {
        const body = await readJson<{ labels?: Record<string, string> }>(req);
        if (!body?.labels || typeof body.labels !== "object") return badRequest("labels must be an object");
        sb.labels = { ...body.labels };
        sb.updatedAt = now();
        return json(200, { labels: { ...sb.labels } });
      }
      case "POST autostop/:n":
      case "POST autoarchive/:n":
      case "POST autodelete/:n": {
        const n = Number(rest[1]);
        if (!Number.isInteger(n)) return badRequest("interval must be an integer");
        if (rest[0] !== "autodelete" && n < 0) return badRequest("interval must be a non-negative integer");
        if (rest[0] === "autostop") sb.autoStopInterval = n;
        else if (rest[0] === "autoarchive") sb.autoArchiveInterval = n === 0 ? 10080 : n;
        else sb.autoDeleteInterval = n;
        sb.updatedAt = now();
        return json(200, this.dto(sb));
      }
      case "POST public/true":
      case "POST public/false":
        sb.public = rest[1] === "true";
        return json(200, this.dto(sb));
      case "GET toolbox-proxy-url":
        return json(200, { url: this.o.toolboxProxyUrl });
      case "POST last-activity":
        return { status: 201 };
      case "GET ports/:n/preview-url": {
        const port = Number(rest[1]);
        if (!Number.isInteger(port) || port < 1 || port > 65535) return badRequest("Invalid port");
        return json(200, { sandboxId: sb.id, url: `${this.o.previewBase}/${sb.id}/${port}`, token: sb.authToken });
      }
      case "GET ports/:n/signed-preview-url": {
        const port = Number(rest[1]);
        if (!Number.isInteger(port) || port < 1 || port > 65535) return badRequest("Invalid port");
        const raw = url.searchParams.get("expiresInSeconds");
        const seconds = raw === null ? 60 : Number(raw);
        if (!Number.isFinite(seconds) || seconds < 1 || seconds > 86400) return badRequest("expiresInSeconds must be between 1 second and 24 hours");
        const token = randomBytes(8).toString("hex");
        this.signedPreviews.set(token, { sandboxId: sb.id, port, expiresAt: Date.now() + seconds * 1000 });
        return json(200, { sandboxId: sb.id, port, token, url: `${this.o.previewBase}/${token}/${port}` });
      }
      default:
        if (method === "POST" && rest[0] === "ports" && rest[2] === "signed-preview-url" && rest[4] === "expire") {
          this.signedPreviews.delete(rest[3]!);
          return { status: 201 };
        }
        return apiError(404, `Cannot ${method} ${url.pathname}`, fullUrl);
    }
  }

  private async createEndpoint(body: Record<string, unknown>, fullUrl: string): Promise<Reply> {
    const labels = body.labels as Record<string, unknown> | undefined;
    if (labels !== undefined && (typeof labels !== "object" || Object.values(labels).some((v) => typeof v !== "string")))
      return apiError(400, "labels must be an object of strings", fullUrl);
    if (!body.buildInfo && (body.cpu || body.gpu || body.memory || body.disk))
      return apiError(400, "Cannot specify Sandbox resources when using a snapshot", fullUrl);
    if (typeof body.name === "string" && body.name && this.find(body.name))
      return apiError(409, `Sandbox with name ${body.name} already exists`, fullUrl);
    const sb = await this.create(body);
    // Like apps/api's controller: wait (bounded) for the start, then answer with the
    // record as it was inserted — its state is still "creating"; the SDK polls.
    const answer = this.dto(sb);
    await this.waitFor(() => sb.state !== "creating", this.o.timings.answerWaitMs);
    return json(200, answer);
  }

  private listEndpoint(url: URL): Reply {
    const q = url.searchParams;
    let labels: Record<string, string> = {};
    const rawLabels = q.get("labels");
    if (rawLabels) {
      try {
        labels = JSON.parse(rawLabels) as Record<string, string>;
      } catch {
        return apiError(400, "labels must be a JSON object", url.pathname + url.search);
      }
    }
    const states = q.getAll("states");
    const includeErroredDeleted = q.get("includeErroredDeleted") === "true";
    const all = [...this.sandboxes.values()]
      .filter((s) => s.state !== "destroyed")
      .filter((s) => includeErroredDeleted || (s.desiredState !== "destroyed" && s.state !== "error"))
      .filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))
      .filter((s) => !q.get("id") || s.id.toLowerCase().startsWith(q.get("id")!.toLowerCase()))
      .filter((s) => !q.get("name") || s.name.toLowerCase().startsWith(q.get("name")!.toLowerCase()))
      .filter((s) => states.length === 0 || states.includes(s.state))
      .sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
    const limit = Math.max(1, Math.min(200, Number(q.get("limit") ?? 100) || 100));
    const offset = q.get("cursor") ? Number(Buffer.from(q.get("cursor")!, "base64url").toString()) || 0 : 0;
    const page = all.slice(offset, offset + limit);
    const next = offset + limit < all.length ? Buffer.from(String(offset + limit)).toString("base64url") : null;
    return json(200, { items: page.map((s) => this.listItem(s)), nextCursor: next });
  }
}
