/** BENCHMARKS.md from the machine, the sections and the benchmarks that failed. */
import type { Machine } from "./machine.js";
import type { Section, Table } from "./section.js";

export interface Failed {
  file: string;
  error: string;
}

export interface ReportInput {
  machine: Machine;
  smoke: boolean;
  command: string;
  sections: Section[];
  failed: Failed[];
  /** Chart id → its path relative to the report. */
  chartPath: (id: string) => string;
  minutes: number;
}

const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\n/g, " ");

function table(t: Table): string {
  return [
    `**${t.caption}**`,
    "",
    `| ${t.columns.map(cell).join(" | ")} |`,
    `|${t.columns.map(() => "---").join("|")}|`,
    ...t.rows.map((r) => `| ${r.map(cell).join(" | ")} |`),
  ].join("\n");
}

export function renderReport(r: ReportInput): string {
  const targets = r.sections.flatMap((s) => s.targets.map((t) => ({ ...t, section: s.title })));
  const missed = targets.filter((t) => !t.met);
  const out = [
    "# Benchmarks",
    "",
    `Measured by \`${r.command}\` on ${r.machine.date.slice(0, 10)} at commit ${r.machine.commit}, in ${r.minutes.toFixed(1)} minutes.` +
      (r.smoke ? " **This is a smoke run: too few runs to mean anything; it only shows that every benchmark still works.**" : ""),
    "",
    "Every time is a median over repeated runs (p95 beside it where there were at least 20), measured beside a baseline in the same run, interleaved with it, so that a noisy machine slows both; the ratio is the figure that carries across machines. Each row says how many runs it rests on. Nothing here is a test: no test asserts a time.",
    "",
    "## Machine",
    "",
    "| | |",
    "|---|---|",
    ...r.machine.rows.map(([k, v]) => `| ${cell(k)} | ${cell(v)} |`),
    "",
    "## Targets",
    "",
    targets.length ? `${targets.length - missed.length} of ${targets.length} met.${missed.length ? " Missed:" : ""}` : "No targets were judged.",
    "",
    ...missed.map((t) => `- **${t.section} — ${t.name}**: ${t.text}`),
    ...(r.failed.length ? ["", "Benchmarks that failed (no numbers):", "", ...r.failed.map((f) => `- \`${f.file}\`: ${f.error}`)] : []),
    "",
    "| section | row | verdict |",
    "|---|---|---|",
    ...targets.map((t) => `| ${cell(t.section)} | ${cell(t.name)} | ${t.met ? "" : "**"}${cell(t.text)}${t.met ? "" : "**"} |`),
  ];
  for (const s of r.sections) {
    out.push("", `## ${s.title}`, "", s.intro);
    for (const t of s.tables) out.push("", table(t));
    for (const c of s.charts) out.push("", `![${c.title}](${r.chartPath(c.id)})`);
    if (s.notes.length) out.push("", ...s.notes.map((n) => `- ${n}`));
  }
  return out.join("\n") + "\n";
}
