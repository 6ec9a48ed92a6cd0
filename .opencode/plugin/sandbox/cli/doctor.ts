/**
 * `doctor`: whether sandboxes can run here, one line per check with what to do about a
 * failed one — the configured provider's own diagnosis, then git, paths and OpenCode.
 * Exit 1 when a check fails that sandboxes cannot work without (warnings do not count).
 */
import { Command } from "commander";
import { resolveProvider } from "../config.js";
import type { Check } from "../providers/provider.js";
import { withContext, type CliContext } from "./context.js";
import { gitChecks, opencodeChecks, pathChecks } from "./host-checks.js";
import { err, EXIT, json, out } from "./output.js";

interface Section {
  name: string;
  checks: Check[];
}

async function providerSection(ctx: CliContext): Promise<Section> {
  if (ctx.configError)
    return { name: "configuration", checks: [{ name: "configuration", ok: false, detail: ctx.configError.problems.join("; "), fix: "correct the option in opencode.json, the environment or .env" }] };
  const resolved = resolveProvider(ctx.config);
  const name = `${resolved} provider${ctx.config.provider === "auto" ? " (auto)" : ""}`;
  try {
    const diagnosis = await (await ctx.providerNow()).diagnose();
    return { name, checks: diagnosis.checks };
  } catch (error) {
    return { name, checks: [{ name: resolved, ok: false, detail: (error as Error).message }] };
  }
}

function render(section: Section): void {
  out(section.name);
  for (const c of section.checks) {
    out(`  ${c.ok ? "✔" : c.warning ? "!" : "✘"} ${c.name}: ${c.detail}`);
    if (!c.ok && c.fix) out(`      fix: ${c.fix}`);
  }
}

export function doctorCommand(): Command {
  return new Command("doctor")
    .description("check that sandboxes can run here (provider, git, paths, OpenCode: the plugin listed and loading, the guard), with the fix for each problem")
    .option("--json", "print the checks as JSON")
    .action(
      withContext(async (ctx, opts: { json?: boolean }) => {
        const sections: Section[] = [
          await providerSection(ctx),
          { name: "git", checks: await gitChecks(ctx.project) },
          { name: "paths", checks: await pathChecks() },
          { name: "opencode", checks: await opencodeChecks(ctx.project, err) },
        ];
        const ok = sections.every((s) => s.checks.every((c) => c.ok || c.warning));
        if (opts.json) json({ ok, sections });
        else {
          sections.forEach(render);
          out(ok ? "✔ Sandboxes can run here." : "✘ Sandboxes cannot run here until the checks marked ✘ are fixed.");
        }
        return ok ? EXIT.ok : EXIT.failed;
      }),
    );
}
