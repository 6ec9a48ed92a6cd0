/**
 * The control plane's endpoints under `{origin}/api` and its DTOs: paths, query
 * parameters and shapes from the pinned @daytona/api-client 0.218 (SandboxApi; list is
 * `{items, nextCursor}` with cursor pagination), answers and errors from apps/api v0.190
 * (sandbox.controller.ts / sandbox.service.ts): 404 "Sandbox with ID or name … not found",
 * 409 "Sandbox state change in progress" while a transition runs, 400 for invalid states,
 * resources with a snapshot, bad ports or expiries; POST /sandbox and /start wait for the
 * start (bounded) and create answers the record as it was inserted.
 */
import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { ControlPlane, SandboxStateName, StandinSandbox } from "./control-plane.js";
import { apiError, json, readJson, type HandlerResult, type Reply } from "./http.js";

const LIFECYCLE_CONFLICT = "Sandbox state change in progress";

export interface ApiOptions {
  toolboxProxyUrl: string;
  /** Base of preview URLs: `${previewBase}/${idOrSignedToken}/${port}`. */
  previewBase: string;
  /** Whether DTOs carry toolboxProxyUrl (false makes the SDK call GET …/toolbox-proxy-url). */
  dtoHasToolboxProxyUrl: boolean;
  daemonVersion?: string;
}

export class ApiRoutes {
  constructor(
    private readonly cp: ControlPlane,
    private readonly o: ApiOptions,
  ) {}

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

  /** Handles a request under the API base (`path` is relative to it, e.g. `/sandbox/x/start`). */
  async handle(method: string, path: string, url: URL, fullUrl: string, req: IncomingMessage): Promise<HandlerResult> {
    const notFound = (idOrName: string) => apiError(404, `Sandbox with ID or name ${idOrName} not found`, fullUrl);
    const seg = path.split("/").filter(Boolean).map(decodeURIComponent);
    if (seg[0] !== "sandbox") return apiError(404, `Cannot ${method} ${url.pathname}`, fullUrl);

    if (seg.length === 1 && method === "POST") return this.createEndpoint((await readJson<Record<string, unknown>>(req)) ?? {}, fullUrl);
    if (seg.length === 1 && method === "GET") return this.listEndpoint(url);

    const idOrName = seg[1]!;
    const sb = this.cp.find(idOrName);
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
        void this.cp.destroy(sb);
        return json(200, this.dto(sb));
      case "POST start": {
        if (sb.state === "started" && sb.desiredState === "started") return json(200, this.dto(sb));
        if (sb.state === "error") return badRequest("Sandbox is in an errored state");
        if (sb.pending || sb.state !== sb.desiredState) return conflict();
        if (sb.state !== "stopped" && sb.state !== "archived") return badRequest("Sandbox is not in valid state");
        void this.cp.start(sb);
        if ((sb.state as SandboxStateName) !== "restoring") await this.cp.waitFor(() => sb.state !== "starting", this.cp.timings.answerWaitMs);
        return json(200, this.dto(sb));
      }
      case "POST stop":
        if (sb.state === "error") return badRequest("Sandbox is in an errored state");
        if (sb.pending || sb.state !== sb.desiredState) return conflict();
        if (sb.state !== "started") return badRequest("Sandbox is not in a stoppable state");
        void this.cp.stop(sb);
        return json(200, this.dto(sb));
      case "POST archive":
        if (sb.state === "error") return badRequest("Sandbox is in an errored state");
        if (sb.pending || sb.state !== sb.desiredState) return conflict();
        if (sb.state !== "stopped") return badRequest("Sandbox is not stopped");
        void this.cp.archive(sb);
        return json(200, this.dto(sb));
      case "POST recover":
        if (!sb.recoverable || sb.state !== "error") return badRequest("Sandbox is not in a recoverable state");
        sb.recoverable = false;
        void this.cp.start(sb);
        await this.cp.waitFor(() => sb.state !== "starting", this.cp.timings.answerWaitMs);
        return json(200, this.dto(sb));
      case "PUT labels": {
        const body = await readJson<{ labels?: Record<string, string> }>(req);
        if (!body?.labels || typeof body.labels !== "object") return badRequest("labels must be an object");
        sb.labels = { ...body.labels };
        sb.updatedAt = new Date().toISOString();
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
        sb.updatedAt = new Date().toISOString();
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
        this.cp.signedPreviews.set(token, { sandboxId: sb.id, port, expiresAt: Date.now() + seconds * 1000 });
        return json(200, { sandboxId: sb.id, port, token, url: `${this.o.previewBase}/${token}/${port}` });
      }
      default:
        if (method === "POST" && rest[0] === "ports" && rest[2] === "signed-preview-url" && rest[4] === "expire") {
          this.cp.signedPreviews.delete(rest[3]!);
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
    if (typeof body.name === "string" && body.name && this.cp.find(body.name))
      return apiError(409, `Sandbox with name ${body.name} already exists`, fullUrl);
    const sb = await this.cp.create(body);
    // Like apps/api's controller: wait (bounded) for the start, then answer with the
    // record as it was inserted — its state is still "creating"; the SDK polls.
    const answer = this.dto(sb);
    await this.cp.waitFor(() => sb.state !== "creating", this.cp.timings.answerWaitMs);
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
    const all = [...this.cp.sandboxes.values()]
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
