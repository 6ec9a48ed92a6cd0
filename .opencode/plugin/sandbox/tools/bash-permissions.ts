/**
 * What the built-in bash asks before running a command, computed the same way: the
 * command is parsed with tree-sitter-bash (the grammar OpenCode itself bundles), and
 * EVERY `command` node — in `&&`/`||`/`;`/pipes, subshells, `$(…)`, backticks — becomes
 * a `bash` permission pattern, with an "always" pattern from the command's arity
 * prefix (`git push *`). Path arguments of cd/rm/cp/… outside the project, and a
 * workdir outside it, become `external_directory` patterns.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import * as path from "node:path";
import type { ToolContext } from "@opencode-ai/plugin";
import { Language, Parser, type Node } from "web-tree-sitter";
import { containsPath } from "./shared.js";

let parser: Promise<Parser> | undefined;

function loadParser(): Promise<Parser> {
  parser ??= (async () => {
    const require = createRequire(import.meta.url);
    const core = require.resolve("web-tree-sitter/tree-sitter.wasm");
    await Parser.init({ locateFile: () => core });
    const grammar = await readFile(require.resolve("tree-sitter-bash/tree-sitter-bash.wasm"));
    const p = new Parser();
    p.setLanguage(await Language.load(new Uint8Array(grammar)));
    return p;
  })().catch((error) => {
    parser = undefined;
    throw error;
  });
  return parser;
}

/** Tokens of a command prefix that identify it, e.g. `git push` (from the built-in's BashArity). */
const ARITY: Record<string, number> = {
  cat: 1, cd: 1, chmod: 1, chown: 1, cp: 1, echo: 1, env: 1, export: 1, grep: 1, kill: 1, killall: 1, ln: 1, ls: 1,
  mkdir: 1, mv: 1, ps: 1, pwd: 1, rm: 1, rmdir: 1, sleep: 1, source: 1, tail: 1, touch: 1, unset: 1, which: 1,
  aws: 3, az: 3, bazel: 2, brew: 2, bun: 2, "bun run": 3, "bun x": 3, cargo: 2, "cargo add": 3, "cargo run": 3,
  cdk: 2, cf: 2, cmake: 2, composer: 2, consul: 2, "consul kv": 3, crictl: 2, deno: 2, "deno task": 3, doctl: 3,
  docker: 2, "docker builder": 3, "docker compose": 3, "docker container": 3, "docker image": 3,
  "docker network": 3, "docker volume": 3, eksctl: 2, "eksctl create": 3, firebase: 2, flyctl: 2, gcloud: 3,
  gh: 3, git: 2, "git config": 3, "git remote": 3, "git stash": 3, go: 2, gradle: 2, helm: 2, heroku: 2, hugo: 2,
  ip: 2, "ip addr": 3, "ip link": 3, "ip netns": 3, "ip route": 3, kind: 2, "kind create": 3, kubectl: 2,
  "kubectl kustomize": 3, "kubectl rollout": 3, kustomize: 2, make: 2, mc: 2, "mc admin": 3, minikube: 2,
  mongosh: 2, mysql: 2, mvn: 2, ng: 2, npm: 2, "npm exec": 3, "npm init": 3, "npm run": 3, "npm view": 3, nvm: 2,
  nx: 2, openssl: 2, "openssl req": 3, "openssl x509": 3, pip: 2, pipenv: 2, pnpm: 2, "pnpm dlx": 3,
  "pnpm exec": 3, "pnpm run": 3, poetry: 2, podman: 2, "podman container": 3, "podman image": 3, psql: 2,
  pulumi: 2, "pulumi stack": 3, pyenv: 2, python: 2, rake: 2, rbenv: 2, "redis-cli": 2, rustup: 2,
  serverless: 2, sfdx: 3, skaffold: 2, sls: 2, sst: 2, swift: 2, systemctl: 2, terraform: 2,
  "terraform workspace": 3, tmux: 2, turbo: 2, ufw: 2, vault: 2, "vault auth": 3, "vault kv": 3, vercel: 2,
  volta: 2, wp: 2, yarn: 2, "yarn dlx": 3, "yarn run": 3,
};

export function arityPrefix(tokens: string[]): string[] {
  for (let n = tokens.length; n > 0; n--) {
    const arity = ARITY[tokens.slice(0, n).join(" ")];
    if (arity !== undefined) return tokens.slice(0, arity);
  }
  return tokens.slice(0, 1);
}

/** Commands that only change directory: no bash pattern of their own. */
const CWD_COMMANDS = new Set(["cd", "chdir", "popd", "pushd", "push-location", "set-location"]);
/** Commands whose path arguments are checked against the project boundary. */
const PATH_COMMANDS = new Set([...CWD_COMMANDS, "rm", "cp", "mv", "mkdir", "touch", "chmod", "chown", "cat"]);
const TOKEN_TYPES = new Set(["command_name", "word", "string", "raw_string", "concatenation"]);

function tokens(command: Node): string[] {
  const out: string[] = [];
  for (let i = 0; i < command.childCount; i++) {
    const child = command.child(i);
    if (child && TOKEN_TYPES.has(child.type)) out.push(child.text);
  }
  return out;
}

function unquote(text: string): string {
  if (text.length < 2) return text;
  const first = text[0];
  return (first === '"' || first === "'") && first === text[text.length - 1] ? text.slice(1, -1) : text;
}

function expandHome(text: string): string {
  if (text === "~") return homedir();
  if (text.startsWith("~/")) return path.join(homedir(), text.slice(2));
  return text;
}

/** The part before the first glob character; nothing when the argument starts with one. */
function globFree(text: string): string | undefined {
  const at = /[?*[]/.exec(text);
  if (!at) return text;
  return at.index === 0 ? undefined : text.slice(0, at.index);
}

function dynamic(text: string): boolean {
  return text.startsWith("(") || text.startsWith("@(") || text.includes("$");
}

export interface BashAsks {
  /** Directories outside the project the command touches. */
  dirs: Set<string>;
  patterns: Set<string>;
  always: Set<string>;
}

/** Parses `command` and collects what the built-in would ask. `isDir` answers for the sandbox. */
export async function collectAsks(
  command: string,
  cwd: string,
  ctx: Pick<ToolContext, "directory" | "worktree">,
  isDir: (p: string) => Promise<boolean>,
): Promise<BashAsks> {
  const p = await loadParser();
  const tree = p.parse(command);
  if (!tree) throw new Error("Failed to parse command");
  try {
    const asks: BashAsks = { dirs: new Set(), patterns: new Set(), always: new Set() };
    for (const node of tree.rootNode.descendantsOfType("command")) {
      if (!node) continue;
      const words = tokens(node);
      const name = words[0];
      if (name && PATH_COMMANDS.has(name)) {
        for (const arg of words.slice(1)) {
          if (arg.startsWith("-") || (name === "chmod" && arg.startsWith("+"))) continue;
          const cut = globFree(expandHome(unquote(arg)));
          if (!cut || dynamic(cut)) continue;
          const resolved = path.resolve(cwd, cut);
          if (containsPath(ctx, resolved)) continue;
          asks.dirs.add((await isDir(resolved)) ? resolved : path.dirname(resolved));
        }
      }
      if (words.length && (!name || !CWD_COMMANDS.has(name))) {
        const text = (node.parent?.type === "redirected_statement" ? node.parent.text : node.text).trim();
        asks.patterns.add(text);
        asks.always.add(`${arityPrefix(words).join(" ")} *`);
      }
    }
    return asks;
  } finally {
    tree.delete();
  }
}

/** The built-in's two asks, in its order: external directories first, then the bash patterns. */
export async function askBash(ctx: ToolContext, asks: BashAsks, command: string): Promise<void> {
  if (asks.dirs.size > 0) {
    const directories = [...asks.dirs];
    const patterns = directories.map((d) => path.join(d, "*"));
    await ctx.ask({
      permission: "external_directory",
      patterns,
      always: patterns,
      metadata: { command, directories, patterns },
    });
  }
  if (asks.patterns.size === 0) return;
  await ctx.ask({ permission: "bash", patterns: [...asks.patterns], always: [...asks.always], metadata: { command } });
}
