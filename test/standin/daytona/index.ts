/**
 * A local stand-in for Daytona's API, for driving the REAL `@daytonaio/sdk` (pinned 0.218.0)
 * over HTTP on a machine that cannot reach Daytona. Test infrastructure only.
 *
 *   const standin = await startDaytonaStandin({ daemon: "split" });
 *   const daytona = new Daytona({ apiKey: standin.apiKey, apiUrl: standin.apiUrl, target: "us" });
 *   …
 *   await daytona[Symbol.asyncDispose](); // else the SDK's socket.io retries keep the process ~3 min
 *   await standin.close();
 *
 * EMULATES (one node:http server on 127.0.0.1:<ephemeral>):
 * - control plane at `{origin}/api` (endpoints in api.ts, records and states in
 *   control-plane.ts): POST/GET/DELETE /sandbox[/{idOrName}], list `GET /sandbox?labels=<json>&cursor&limit&states&name&id` → `{items, nextCursor}`,
 *   start, stop, archive, recover, PUT labels, autostop/autoarchive/autodelete/{n},
 *   public/{bool}, toolbox-proxy-url, ports/{port}/preview-url → `{sandboxId, url, token}`,
 *   ports/{port}/signed-preview-url?expiresInSeconds (1…86400, default 60) and its
 *   …/{token}/expire, last-activity. The create body is kept verbatim (`createRequest`).
 *   A real state machine backed by one local bubblewrap sandbox per Daytona sandbox (same
 *   id): creating → started, stopping → stopped (processes end, files stay), archiving →
 *   archived (start then goes through a slower "restoring"), destroying → destroyed (404
 *   with the API's error body), error (+ recover). Transitions take configurable minimum
 *   times; meanwhile lifecycle calls get 409, as in apps/api. POST /sandbox (and /start)
 *   wait for the start like apps/api v0.190 and answer the record as inserted (state
 *   "creating"), so the SDK's polling runs. The preview token changes on every start.
 * - auth: `Authorization: Bearer <apiKey>` on API and toolbox; otherwise 401 with the
 *   API's / proxy's error body.
 * - toolbox at `{origin}/toolbox/{sandboxId}/…` (the DTOs' toolboxProxyUrl is
 *   `{origin}/toolbox`; the SDK appends `/{id}`): process/execute in the "split" or
 *   "shell" daemon behaviour (exec.ts), sessions (sessions.ts), files (files.ts),
 *   work-dir, user-home-dir.
 * - preview proxy at `{origin}/preview/{id|signedToken}/{port}/…` (preview.ts).
 * - faults before/after any request and a request log that sees every request on the
 *   wire, socket.io attempts and the SDK's retries included (wire.ts); `latencyMs` adds a
 *   fixed delay to every request (a real network's round trip, for benchmarks).
 *
 * Directories: the Daytona user "daytona" with home /home/daytona and the image's work
 * dir become the local sandbox's user: work dir = its project dir (/workspace, also the
 * daemon's cwd: relative file paths and execute/session cwd default to it), home =
 * /home/user (HOME). envVars become the sandbox's environment.
 *
 * DOES NOT EMULATE: socket.io state events (upgrade answered 404 → the SDK polls),
 * WebSocket log following / PTY / interpreter (501), sendSessionCommandInput (session
 * commands read /dev/null), the entrypoint session, git/LSP/computer-use/code-run
 * endpoints, signed file URLs (signing-key), snapshots/volumes/images (an image or
 * snapshot is recorded, not built; resources are recorded, not enforced beyond the local
 * provider's limits), auto-stop/-archive/-delete timers (use `platform.*` to act as the
 * platform would), network rules (networkBlockAll/networkAllowList are recorded; the
 * local provider's network mode applies), organizations/JWT, pagination beyond a simple
 * offset cursor, the real proxy's 307 to its login page (401 here), the v0.190 daemon's
 * 30 s cap on waiting for pipe holders after exit (here: unbounded, as in daemons before
 * #4712).
 */
import { mkdtemp, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { silentLogger } from "../../../.opencode/plugin/sandbox/core/logger.js";
import { LocalProvider, type LocalProviderOptions } from "../../../.opencode/plugin/sandbox/providers/local/index.js";
import { ApiRoutes } from "./api.js";
import { ControlPlane, type StandinSandbox, type Timings } from "./control-plane.js";
import type { DaemonMode } from "./exec.js";
import { Daemons } from "./daemon.js";
import { PreviewProxy, PREVIEW_PREFIX } from "./preview.js";
import { API_PREFIX, createStandinServer, TOOLBOX_PREFIX } from "./server.js";
import { Sessions } from "./sessions.js";
import { Faults, RequestLog, type RecordedRequest } from "./wire.js";

export type { DaemonMode } from "./exec.js";
export type { StandinSandbox, SandboxStateName } from "./control-plane.js";
export type { Fault, FaultRule, FaultHandle, RecordedRequest } from "./wire.js";

export interface DaytonaStandinOptions extends Partial<Timings> {
  /** How process/execute treats the command (default "shell"). */
  daemon?: DaemonMode;
  /** The key clients must send (default: a random one). */
  apiKey?: string;
  /** Options for the backing LocalProvider (default: network "none", its own temp root). */
  provider?: Partial<LocalProviderOptions>;
  /** Seed for probability faults (default 1). */
  seed?: number;
  organizationId?: string;
  /** Default target (region) of created sandboxes (default "us"). */
  target?: string;
  /** false: DTOs lack toolboxProxyUrl, so the SDK asks GET /sandbox/{id}/toolbox-proxy-url. */
  dtoHasToolboxProxyUrl?: boolean;
  /** Reported as the DTOs' daemonVersion when given. */
  daemonVersion?: string;
  /** Milliseconds added before every request is handled (a network's round trip; default 0). */
  latencyMs?: number;
}

export interface DaytonaStandin {
  /** `http://127.0.0.1:<port>/api` — pass as `apiUrl`. */
  readonly apiUrl: string;
  readonly apiKey: string;
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  readonly toolboxProxyUrl: string;
  readonly daemon: DaemonMode;
  /** Every request seen on the wire so far (method, path, url, status, upgrade, fault). */
  readonly requests: readonly RecordedRequest[];
  resetRequests(): void;
  /** Requests matching method and path (exact string or RegExp on the path without query). */
  countRequests(method: string, path: RegExp | string): number;
  readonly faults: Faults;
  /** Every sandbox record, destroyed ones included (inspection; do not mutate). */
  readonly sandboxes: ReadonlyMap<string, StandinSandbox>;
  /** A live (not destroyed) record by id or name. */
  sandbox(idOrName: string): StandinSandbox | undefined;
  /** The platform acting on its own (auto-stop, auto-archive, auto-delete, failures). */
  readonly platform: {
    stop(id: string): Promise<void>;
    archive(id: string): Promise<void>;
    delete(id: string): Promise<void>;
    /** Gone at once, no transition (as if deleted from another client long ago). */
    vanish(id: string): Promise<void>;
    fail(id: string, reason: string, recoverable?: boolean): Promise<void>;
  };
  readonly provider: LocalProvider;
  /** Stops the server and deletes every backing local sandbox. */
  close(): Promise<void>;
}

export async function startDaytonaStandin(options: DaytonaStandinOptions = {}): Promise<DaytonaStandin> {
  const apiKey = options.apiKey ?? `standin-${randomBytes(12).toString("hex")}`;
  const daemon = options.daemon ?? "shell";
  const root = options.provider?.root ?? (await mkdtemp(join(tmpdir(), "daytona-standin-")));
  const ownRoot = !options.provider?.root;
  const provider = new LocalProvider({
    network: "none",
    memoryMb: 1024,
    maxProcesses: 256,
    maxOpenFiles: 4096,
    log: silentLogger,
    ...options.provider,
    root,
  });
  const log = new RequestLog();
  const faults = new Faults(options.seed ?? 1);
  const sessions = new Sessions();
  // The port is known only once listening: the control plane reads URLs through getters.
  const urls = { origin: "" };
  const timings: Timings = {
    creatingMs: options.creatingMs ?? 1000,
    startingMs: options.startingMs ?? 1000,
    restoringMs: options.restoringMs ?? 3000,
    stoppingMs: options.stoppingMs ?? 200,
    archivingMs: options.archivingMs ?? 500,
    destroyingMs: options.destroyingMs ?? 200,
    answerWaitMs: options.answerWaitMs ?? 30_000,
  };
  const cp = new ControlPlane({
    provider,
    timings,
    organizationId: options.organizationId ?? "standin-organization",
    target: options.target ?? "us",
    onBootEnded: (sb) => sessions.forget(sb.id),
  });
  const api = new ApiRoutes(cp, {
    get toolboxProxyUrl() {
      return `${urls.origin}${TOOLBOX_PREFIX}`;
    },
    get previewBase() {
      return `${urls.origin}${PREVIEW_PREFIX}`;
    },
    dtoHasToolboxProxyUrl: options.dtoHasToolboxProxyUrl ?? true,
    daemonVersion: options.daemonVersion,
  });
  const preview = new PreviewProxy(cp, apiKey);
  const { server, closeSockets } = createStandinServer({ apiKey, daemon, daemons: new Daemons(), log, faults, cp, api, sessions, preview, latencyMs: options.latencyMs });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  urls.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const live = (id: string) => {
    const sb = cp.find(id);
    if (!sb) throw new Error(`stand-in: no live sandbox ${id}`);
    return sb;
  };
  let closed = false;
  return {
    apiUrl: `${urls.origin}${API_PREFIX}`,
    apiKey,
    origin: urls.origin,
    toolboxProxyUrl: `${urls.origin}${TOOLBOX_PREFIX}`,
    daemon,
    get requests() {
      return log.entries;
    },
    resetRequests: () => log.reset(),
    countRequests: (method, path) => log.count(method, path),
    faults,
    sandboxes: cp.sandboxes,
    sandbox: (idOrName) => cp.find(idOrName),
    platform: {
      stop: (id) => cp.stop(live(id)),
      archive: (id) => cp.archive(live(id)),
      delete: (id) => cp.destroy(live(id)),
      vanish: (id) => cp.vanish(live(id)),
      fail: (id, reason, recoverable) => cp.fail(live(id), reason, recoverable),
    },
    provider,
    async close() {
      if (closed) return;
      closed = true;
      faults.clear();
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      closeSockets();
      server.closeAllConnections();
      await stopped;
      await cp.settle();
      for (const info of await provider.list({}).catch(() => [])) await provider.delete(info.id).catch(() => {});
      await provider.dispose();
      if (ownRoot) await rm(root, { recursive: true, force: true });
    },
  };
}
