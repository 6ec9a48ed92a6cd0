/**
 * `{toolbox}/{id}/files…` like apps/daemon/pkg/toolbox/fs: list, info, delete, folder,
 * bulk upload (multipart), bulk download (multipart answer), single download/upload,
 * move. Paths are taken as the daemon takes them — relative ones against its working
 * directory (the work dir). File bytes go through the local sandbox's readFile/writeFile;
 * metadata, deletes and folders through one `stat`/`rm`/`mkdir` command inside the
 * sandbox (as the sandbox user, like the daemon). Missing paths answer 404 with code
 * FILE_NOT_FOUND (the pinned toolbox client's codes; v0.190 sent an empty 404 for
 * info/list/delete).
 */
import type { IncomingMessage } from "node:http";
import { posix } from "node:path";
import type { Sandbox } from "../../../.opencode/plugin/sandbox/providers/provider.js";
import { isSandboxError } from "../../../.opencode/plugin/sandbox/providers/provider.js";
import { daemonError, json, readBody, readJson, type Reply } from "./http.js";
import { DOWNLOAD_BOUNDARY, multipartDownload, parseMultipart, type DownloadPart } from "./multipart.js";

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const STAT_FORMAT = "%s\\0%f\\0%u\\0%g\\0%Y\\0%n\\0";

/** Go's FileMode.String() for the common cases. */
function modeString(mode: number): string {
  const type = mode & 0o170000;
  const letter = type === 0o040000 ? "d" : type === 0o010000 ? "p" : type === 0o140000 ? "S" : type === 0o060000 ? "D" : type === 0o020000 ? "Dc" : "-";
  let perm = "";
  for (let i = 8; i >= 0; i--) perm += mode & (1 << i) ? "rwx"[(8 - i) % 3] : "-";
  return letter + perm;
}

function goTime(seconds: number): string {
  const d = new Date(seconds * 1000).toISOString(); // 2006-01-02T15:04:05.000Z
  return `${d.slice(0, 10)} ${d.slice(11, 19)} +0000 UTC`;
}

function parseStats(output: string) {
  const f = output.split("\0");
  const out = [];
  for (let i = 0; i + 5 < f.length; i += 6) {
    const [size, rawMode, uid, gid, mtime, name] = f.slice(i, i + 6) as [string, string, string, string, string, string];
    const mode = parseInt(rawMode, 16);
    if (!Number.isFinite(mode) || !/^\d+$/.test(size.trim())) continue;
    out.push({
      name: posix.basename(name),
      path: name,
      size: Number(size.trim()),
      mode: modeString(mode),
      modTime: goTime(Number(mtime)),
      modifiedAt: new Date(Number(mtime) * 1000).toISOString(),
      isDir: (mode & 0o170000) === 0o040000,
      owner: uid,
      group: gid,
      permissions: (mode & 0o7777).toString(8).padStart(4, "0"),
    });
  }
  return out;
}

export async function files(local: Sandbox, workDir: string, method: string, rest: string[], url: URL, req: IncomingMessage, path: string): Promise<Reply> {
  const resolve = (p: string) => posix.resolve(workDir, p);
  const query = (k: string) => url.searchParams.get(k) ?? "";
  const bad = (m: string) => daemonError(400, "BAD_REQUEST", m, path, method);
  const notFound = (p: string) => daemonError(404, "FILE_NOT_FOUND", `file not found: ${p}`, path, method);
  const op = `${method} ${rest.join("/")}`;

  switch (op) {
    case "GET ": {
      const p = resolve(query("path") || ".");
      const depth = query("depth") ? Number(query("depth")) : 1;
      if (!Number.isInteger(depth) || depth < 1) return bad("depth must be an integer >= 1");
      const r = await local.exec(
        `p=${q(p)}; [ -e "$p" ] || exit 3; [ -d "$p" ] || exit 4; ` +
          `find "$p" -mindepth 1 -maxdepth ${depth} -print0 2>/dev/null | xargs -0 -r stat -L --printf '${STAT_FORMAT}' -- 2>/dev/null; true`,
      );
      if (r.exitCode === 3) return notFound(query("path"));
      if (r.exitCode === 4) return bad(`readdirent ${p}: not a directory`);
      return json(200, parseStats(r.output));
    }
    case "GET info": {
      if (!query("path")) return bad("path is required");
      const r = await local.exec(`stat -L --printf '${STAT_FORMAT}' -- ${q(resolve(query("path")))} 2>/dev/null`);
      const [info] = parseStats(r.output);
      if (!info) return notFound(query("path"));
      return json(200, { ...info, path: undefined });
    }
    case "DELETE ": {
      if (!query("path")) return bad("path is required");
      const recursive = query("recursive") === "true";
      const r = await local.exec(`p=${q(resolve(query("path")))}; [ -e "$p" ] || exit 3; if [ -d "$p" ]; then ${recursive ? 'rm -rf -- "$p"' : "exit 4"}; else rm -f -- "$p"; fi`);
      if (r.exitCode === 3) return notFound(query("path"));
      if (r.exitCode === 4) return bad("cannot delete directory without recursive flag");
      if (r.exitCode !== 0) return bad(r.output.trim());
      return { status: 204 };
    }
    case "POST folder": {
      if (!query("path")) return bad("path is required");
      const mode = query("mode") || "755";
      if (!/^[0-7]{1,4}$/.test(mode)) return bad("invalid mode format");
      const r = await local.exec(`mkdir -p -m ${mode} -- ${q(resolve(query("path")))}`);
      if (r.exitCode !== 0) return bad(r.output.trim());
      return { status: 201 };
    }
    case "POST move": {
      const r = await local.exec(`mv -- ${q(resolve(query("source")))} ${q(resolve(query("destination")))}`);
      if (r.exitCode !== 0) return bad(r.output.trim());
      return { status: 200 };
    }
    case "POST bulk-upload": {
      let parts;
      try {
        parts = await parseMultipart(req);
      } catch {
        return json(400, { errors: ["invalid multipart form"] });
      }
      const errors: string[] = [];
      const done: { path: string; bytes: number }[] = [];
      for (const [name, data] of parts.files) {
        const idx = name.replace(/^files\[/, "").replace(/\]\.file$/, "");
        const dest = parts.fields.get(`files[${idx}].path`)?.trim();
        if (!dest) {
          errors.push(`file[${idx}]: missing .path metadata`);
          continue;
        }
        try {
          await local.writeFile(resolve(dest), data);
          done.push({ path: dest, bytes: data.length });
        } catch (error) {
          errors.push(`${dest}: create: ${(error as Error).message}`);
        }
      }
      return errors.length ? json(400, { errors, files: done }) : json(200, { files: done });
    }
    case "POST bulk-download": {
      const body = await readJson<{ paths?: unknown }>(req);
      if (!body || !Array.isArray(body.paths) || body.paths.length === 0)
        return json(400, { error: 'request body must be {"paths": [ ... ]} and non-empty' });
      const parts: DownloadPart[] = [];
      for (const p of body.paths as string[]) {
        const error = (status: number, code: string, message: string): DownloadPart => ({
          kind: "error",
          path: p,
          error: { statusCode: status, message, code, timestamp: new Date().toISOString(), path: p, method, source: "DAYTONA_DAEMON" },
        });
        if (typeof p !== "string" || p === "") {
          parts.push(error(400, "INVALID_FILE_PATH", "invalid file path: path is empty"));
          continue;
        }
        try {
          parts.push({ kind: "file", path: p, data: await local.readFile(resolve(p)) });
        } catch (e) {
          if (isSandboxError(e, "file_not_found", "not_directory")) parts.push(error(404, "FILE_NOT_FOUND", `file not found: ${p}`));
          else if (isSandboxError(e, "is_directory")) parts.push(error(400, "INVALID_FILE_PATH", `invalid file path: path points to a directory: ${p}`));
          else if (isSandboxError(e, "permission_denied")) parts.push(error(403, "FILE_ACCESS_DENIED", `permission denied: ${p}`));
          else parts.push(error(500, "FILE_READ_FAILED", `failed to open file: ${(e as Error).message}`));
        }
      }
      return { status: 200, headers: { "content-type": `multipart/form-data; boundary=${DOWNLOAD_BOUNDARY}` }, body: multipartDownload(parts) };
    }
    case "GET download": {
      if (!query("path")) return bad("path is required");
      try {
        const data = await local.readFile(resolve(query("path")));
        return { status: 200, headers: { "content-type": "application/octet-stream", "content-disposition": `attachment; filename=${posix.basename(query("path"))}` }, body: Buffer.from(data) };
      } catch (e) {
        if (isSandboxError(e, "file_not_found")) return notFound(query("path"));
        return bad((e as Error).message);
      }
    }
    case "POST upload-v2": {
      if (!query("path")) return bad("path is required");
      let data: Buffer;
      if (String(req.headers["content-type"] ?? "").startsWith("multipart/")) {
        const parts = await parseMultipart(req);
        const file = parts.files.get("file");
        if (!file) return bad("file is required");
        data = file;
      } else data = await readBody(req);
      await local.writeFile(resolve(query("path")), data);
      return json(200, { name: posix.basename(query("path")), path: resolve(query("path")), type: "file" });
    }
    default:
      return { status: 404, headers: { "content-type": "text/plain" }, body: "404 page not found" };
  }
}
