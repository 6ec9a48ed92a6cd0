/**
 * DaytonaProvider: sandboxes on Daytona (cloud or self-hosted) through the pinned
 * `@daytonaio/sdk`. One SDK client per provider, made on first use. Every sandbox
 * carries this installation's label, so listings (orphan reports, prune) only ever
 * see this installation's sandboxes — the project id alone is shared by every clone
 * of a repository and by teammates in the same organization.
 */
import { randomBytes } from "node:crypto";
import { posix } from "node:path";
import type { Daytona, Sandbox as SdkSandbox } from "@daytonaio/sdk";
import { SandboxError, type Check, type CreateSpec, type Diagnosis, type DiskUsage, type ProviderLog, type Sandbox, type SandboxInfo, type SandboxProvider, type SandboxState } from "../provider.js";
import { shq } from "../../util/shell.js";
import { withRetry, type RetryPolicy } from "../retry.js";
import { createClient } from "./client.js";
import { statusOf, toSandboxError, transient } from "./errors.js";
import { DaytonaSandbox } from "./sandbox.js";

export const INSTALLATION_LABEL = "opencode-sandboxed/installation";

export interface DaytonaProviderOptions {
  apiKey: string;
  apiUrl: string;
  target?: string;
  snapshot?: string;
  image?: string;
  resources?: { cpu?: number; memory?: number; disk?: number };
  autoStopMinutes: number;
  autoArchiveMinutes: number;
  autoDeleteMinutes: number;
  public: boolean;
  networkBlockAll?: boolean;
  networkAllowList?: string[];
  /** Outbound traffic only to these domains (none: no domain rule). */
  domainAllowList?: string[];
  previewExpiryMinutes: number;
  /** The user's `sandboxEnv`. */
  env?: Record<string, string>;
  /** This installation's id (see core/installation.ts). */
  installationId: string;
  log: ProviderLog;
  /** Seconds a create or start may take before it is reported as failed. */
  startTimeoutSec?: number;
  retry?: RetryPolicy;
}

/** Daytona's states as the seam's: anything on its way up is "starting". */
export function seamState(state: string | undefined): SandboxState | "gone" {
  switch (state) {
    case "started":
      return "started";
    case "stopped":
    case "archived":
    case "paused":
    case "stopping":
    case "archiving":
    case "pausing":
      return "stopped";
    case "error":
    case "build_failed":
      return "error";
    case "destroyed":
    case "destroying":
      return "gone";
    default:
      return "starting";
  }
}

export class DaytonaProvider implements SandboxProvider {
  readonly name = "daytona";
  private client?: Promise<Daytona>;

  constructor(private readonly o: DaytonaProviderOptions) {}

  private daytona(): Promise<Daytona> {
    if (!this.client) {
      this.client = createClient({ apiKey: this.o.apiKey, apiUrl: this.o.apiUrl, target: this.o.target, requestTimeoutMs: 120_000, log: this.o.log })
        .then((c) => c.daytona)
        .catch((error: unknown) => {
          throw new SandboxError("unavailable", `The Daytona SDK could not start: ${(error as Error).message}`, { cause: error });
        });
      this.client.catch(() => (this.client = undefined));
    }
    return this.client;
  }

  /** An SDK call that is safe to repeat, retried when transient, its error typed. */
  private async call<T>(doing: string, fn: (daytona: Daytona) => Promise<T>): Promise<T> {
    const daytona = await this.daytona();
    return withRetry(() => fn(daytona), {
      policy: this.o.retry,
      classify: transient,
      onRetry: (error, attempt, wait) => this.o.log.warn(`daytona: ${doing} failed (attempt ${attempt}, next in ${wait} ms): ${(error as Error).message}`),
    }).catch((error: unknown) => {
      throw toSandboxError(error, { apiUrl: this.o.apiUrl, doing });
    });
  }

  async preflight(): Promise<void> {
    await this.call("list sandboxes", async (d) => {
      await d.list({ labels: { [INSTALLATION_LABEL]: this.o.installationId }, limit: 1 }).next();
    });
  }

  async diagnose(): Promise<Diagnosis> {
    const checks: Check[] = [{ name: "api", ok: true, detail: `${this.o.apiUrl}${this.o.target ? ` (target ${this.o.target})` : ""}` }];
    try {
      await this.preflight();
      checks.push({ name: "api key", ok: true, detail: "accepted" });
    } catch (error) {
      const auth = error instanceof SandboxError && error.kind === "auth";
      checks.push({ name: auth ? "api key" : "api", ok: false, detail: (error as Error).message, fix: auth ? "set DAYTONA_API_KEY to a valid key" : `check that ${this.o.apiUrl} is reachable` });
    }
    checks.push({ name: "image", ok: true, detail: this.o.snapshot ? `snapshot ${this.o.snapshot}` : this.o.image ? `image ${this.o.image}` : "Daytona's default snapshot" });
    checks.push({
      name: "lifecycle",
      ok: true,
      detail: `auto-stop after ${this.o.autoStopMinutes} min idle, archive after ${this.o.autoArchiveMinutes} min stopped, delete after ${this.o.autoDeleteMinutes} min stopped`,
    });
    const allowed = [...(this.o.networkAllowList ?? []), ...(this.o.domainAllowList ?? [])];
    checks.push({ name: "network", ok: true, detail: this.o.networkBlockAll ? "all outbound blocked" : allowed.length ? `outbound only to ${allowed.join(", ")}` : "outbound open" });
    checks.push({ name: "previews", ok: true, detail: this.o.public ? "public sandboxes: links need no token" : `signed links valid ${this.o.previewExpiryMinutes} min, renewed before they expire` });
    return { provider: this.name, available: checks.every((c) => c.ok), checks };
  }

  async create(spec: CreateSpec): Promise<Sandbox> {
    const labels = { ...spec.labels, [INSTALLATION_LABEL]: this.o.installationId, "opencode-sandboxed/create": randomBytes(6).toString("hex") };
    const base = {
      name: `opencode-${(spec.labels.session ?? "sandbox").replace(/[^A-Za-z0-9-]/g, "").slice(-12)}-${randomBytes(3).toString("hex")}`,
      labels,
      envVars: { ...this.o.env, ...spec.env },
      public: this.o.public,
      autoStopInterval: this.o.autoStopMinutes,
      autoArchiveInterval: this.o.autoArchiveMinutes,
      autoDeleteInterval: this.o.autoDeleteMinutes,
      networkBlockAll: this.o.networkBlockAll,
      networkAllowList: this.o.networkAllowList?.join(","),
      // Empty is left out: it must not read as "no domain at all".
      domainAllowList: this.o.domainAllowList?.length ? this.o.domainAllowList.join(",") : undefined,
    };
    const params = this.o.image ? { ...base, image: this.o.image, resources: this.o.resources } : { ...base, snapshot: this.o.snapshot };
    const timeout = this.o.startTimeoutSec ?? 180;
    const daytona = await this.daytona();
    let sdk: SdkSandbox;
    try {
      sdk = await daytona.create(params, { timeout });
    } catch (error) {
      // A create is not repeated blindly: its answer may be lost after Daytona made it.
      if (!transient(error).retry) throw toSandboxError(error, { apiUrl: this.o.apiUrl, doing: "create a sandbox" });
      this.o.log.warn(`daytona: the answer to a create was lost (${(error as Error).message}); looking for the sandbox`);
      const made = await this.find(labels);
      if (made) sdk = made;
      else sdk = await this.call("create a sandbox", (d) => d.create(params, { timeout }));
    }
    if (seamState(sdk.state) !== "started") await this.call(`start sandbox ${sdk.id}`, () => sdk.waitUntilStarted(timeout));
    const sandbox = await this.handle(sdk);
    const made = await sandbox.exec(`mkdir -p ${shq(sandbox.projectDir)}`, { cwd: "/" });
    if (made.exitCode !== 0) throw new SandboxError("unavailable", `Daytona sandbox ${sdk.id}: cannot create ${sandbox.projectDir}: ${made.output.trim()}`);
    this.o.log.info(`daytona sandbox ${sdk.id} (${sdk.name}) created`);
    return sandbox;
  }

  private async find(labels: Record<string, string>): Promise<SdkSandbox | undefined> {
    return this.call("look for a sandbox", async (d) => {
      for await (const sandbox of d.list({ labels })) return sandbox;
      return undefined;
    });
  }

  private async sdkSandbox(id: string): Promise<SdkSandbox> {
    try {
      const sandbox = await this.call(`look up sandbox ${id}`, (d) => d.get(id));
      if (seamState(sandbox.state) === "gone") throw new SandboxError("sandbox_not_found", `Sandbox ${id} was deleted`);
      return sandbox;
    } catch (error) {
      if (error instanceof SandboxError && error.kind === "sandbox_not_found") throw new SandboxError("sandbox_not_found", `Sandbox ${id} not found`, { cause: error });
      throw error;
    }
  }

  async get(id: string): Promise<SandboxInfo> {
    return this.info(await this.sdkSandbox(id));
  }

  private info(sdk: SdkSandbox): SandboxInfo {
    const state = seamState(sdk.state);
    // Daytona's own activity time where it sends one; else its last change (start, stop).
    const lastActivityAt = sdk.lastActivityAt ?? sdk.updatedAt;
    return { id: sdk.id, state: state === "gone" ? "error" : state, labels: { ...sdk.labels }, createdAt: sdk.createdAt, lastActivityAt };
  }

  /** Daytona tells the disk it allocated (GiB), not what is used of it: that would need the sandbox started. */
  async diskUsage(id: string): Promise<DiskUsage> {
    const sdk = await this.sdkSandbox(id);
    return Number.isFinite(sdk.disk) && sdk.disk > 0 ? { allocatedBytes: sdk.disk * 2 ** 30 } : {};
  }

  async connect(id: string): Promise<Sandbox> {
    const sdk = await this.sdkSandbox(id);
    if (sdk.state !== "started") throw new SandboxError("not_running", `Sandbox ${id} is ${sdk.state}`, { state: sdk.state });
    return this.handle(sdk);
  }

  async start(id: string): Promise<void> {
    const sdk = await this.sdkSandbox(id);
    const timeout = this.o.startTimeoutSec ?? 180;
    switch (seamState(sdk.state)) {
      case "started":
        return;
      case "error":
        if (!sdk.recoverable) throw new SandboxError("unavailable", `Daytona sandbox ${id} failed and cannot be recovered: ${sdk.errorReason ?? "no reason given"}`);
        this.o.log.warn(`daytona sandbox ${id} is in error (${sdk.errorReason}); recovering it`);
        return this.call(`recover sandbox ${id}`, () => sdk.recover(timeout));
      case "starting":
        return this.call(`wait for sandbox ${id}`, () => sdk.waitUntilStarted(timeout));
      default:
        if (sdk.state === "archived") this.o.log.info(`daytona sandbox ${id} was archived: starting it takes longer`);
        return this.call(`start sandbox ${id}`, () => sdk.start(timeout));
    }
  }

  async stop(id: string): Promise<void> {
    const sdk = await this.sdkSandbox(id);
    if (seamState(sdk.state) === "started") await this.call(`stop sandbox ${id}`, () => sdk.stop(this.o.startTimeoutSec ?? 180));
  }

  async delete(id: string): Promise<void> {
    try {
      const sdk = await this.sdkSandbox(id);
      await this.call(`delete sandbox ${id}`, () => sdk.delete(this.o.startTimeoutSec ?? 180));
    } catch (error) {
      if (error instanceof SandboxError && error.kind === "sandbox_not_found") return;
      if (statusOf((error as Error).cause) === 404) return;
      throw error;
    }
  }

  async list(labels: Record<string, string>): Promise<SandboxInfo[]> {
    return this.call("list sandboxes", async (d) => {
      const out: SandboxInfo[] = [];
      for await (const sdk of d.list({ labels: { ...labels, [INSTALLATION_LABEL]: this.o.installationId } }))
        if (seamState(sdk.state) !== "gone") out.push(this.info(sdk));
      return out;
    });
  }

  /** The repository lives in `workspace` under the image's work directory (asked once per handle). */
  private async handle(sdk: SdkSandbox): Promise<Sandbox> {
    const workDir = await this.call(`find the work directory of sandbox ${sdk.id}`, () => sdk.getWorkDir());
    if (!workDir?.startsWith("/")) throw new SandboxError("unavailable", `Daytona sandbox ${sdk.id} reported no work directory`);
    return new DaytonaSandbox({
      sdk,
      projectDir: posix.join(workDir, "workspace"),
      env: { ...this.o.env },
      apiUrl: this.o.apiUrl,
      public: this.o.public,
      previewExpirySeconds: this.o.previewExpiryMinutes * 60,
      autoStopMinutes: this.o.autoStopMinutes,
      log: this.o.log,
      retry: this.o.retry,
    });
  }

  async dispose(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await (await client?.catch(() => undefined))?.[Symbol.asyncDispose]?.().catch(() => {});
  }
}
