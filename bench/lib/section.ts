/**
 * What one benchmark returns: a section of BENCHMARKS.md — tables of cells, charts as
 * vega-lite specs (drawn by the report), notes, and every target with its verdict, so
 * the report can list the missed ones first.
 */
import { summarize, type Summary } from "./stats.js";

export interface Table {
  caption: string;
  columns: string[];
  rows: string[][];
}

/** A vega-lite spec with its data inline (`data: { values }`); `id` names the SVG file. */
export interface Chart {
  id: string;
  title: string;
  spec: Record<string, unknown>;
}

export interface Verdict {
  name: string;
  met: boolean;
  text: string;
}

export interface Section {
  id: string;
  title: string;
  intro: string;
  tables: Table[];
  charts: Chart[];
  notes: string[];
  targets: Verdict[];
}

/** A target for a subject measured against its baseline (or alone, for absolute ones). */
export type Target =
  | { kind: "ratio"; max: number } // subject ≤ max × baseline (medians)
  | { kind: "over"; max: number } // subject ≤ baseline + max (medians, in the row's unit)
  | { kind: "atMost"; max: number }; // subject median ≤ max (counts, or an absolute bound the issue sets)

export interface Unit {
  name: string;
  /** For throughput, higher is better: ratios are then baseline / subject ("× slower"). */
  higherIsBetter?: boolean;
  digits?: number;
}

export const MS: Unit = { name: "ms", digits: 1 };
export const COUNT: Unit = { name: "", digits: 0 };
export const MIB_S: Unit = { name: "MiB/s", higherIsBetter: true, digits: 0 };

export function fmt(value: number, unit: Unit): string {
  const digits = unit.digits ?? 1;
  const text = value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  return unit.name ? `${text} ${unit.name}` : text;
}

export function fmtSummary(s: Summary, unit: Unit): string {
  return s.p95 === undefined ? fmt(s.median, unit) : `${fmt(s.median, unit)} (p95 ${fmt(s.p95, unit)})`;
}

/** How many times worse the subject is than the baseline (1 = equal). */
export function slowdown(subject: Summary, baseline: Summary, unit: Unit): number {
  return unit.higherIsBetter ? baseline.median / subject.median : subject.median / baseline.median;
}

export function verdict(name: string, target: Target, subject: Summary, unit: Unit, baseline?: Summary): Verdict {
  if (target.kind === "atMost") {
    const met = unit.higherIsBetter ? subject.median >= target.max : subject.median <= target.max;
    const rel = unit.higherIsBetter ? "≥" : "≤";
    return { name, met, text: met ? `met (${fmt(subject.median, unit)} ${rel} ${fmt(target.max, unit)})` : `missed by ${fmt(Math.abs(subject.median - target.max), unit)} (${fmt(subject.median, unit)}, target ${rel} ${fmt(target.max, unit)})` };
  }
  if (!baseline) throw new Error(`target ${target.kind} of ${name} needs a baseline`);
  if (target.kind === "ratio") {
    const r = slowdown(subject, baseline, unit);
    const met = r <= target.max;
    return { name, met, text: met ? `met (${r.toFixed(2)}× ≤ ${target.max}×)` : `missed by ${(r - target.max).toFixed(2)}× (${r.toFixed(2)}×, target ≤ ${target.max}×)` };
  }
  const over = unit.higherIsBetter ? baseline.median - subject.median : subject.median - baseline.median;
  const met = over <= target.max;
  const signed = `${over >= 0 ? "+" : "−"}${fmt(Math.abs(over), unit)}`; // a subject faster than its baseline is "−", not "+-"
  return { name, met, text: met ? `met (${signed} ≤ +${fmt(target.max, unit)})` : `missed by ${fmt(over - target.max, unit)} (${signed}, target ≤ +${fmt(target.max, unit)})` };
}

/** Columns of a table of subjects against their baselines. */
export const COMPARE_COLUMNS = ["", "baseline", "measured", "difference", "ratio", "runs", "target"];

export class SectionBuilder {
  private readonly section: Section;

  constructor(id: string, title: string, intro: string) {
    this.section = { id, title, intro, tables: [], charts: [], notes: [], targets: [] };
  }

  table(caption: string, columns: string[] = COMPARE_COLUMNS): TableBuilder {
    const table: Table = { caption, columns, rows: [] };
    this.section.tables.push(table);
    return new TableBuilder(table, this.section.targets);
  }

  chart(chart: Chart): void {
    this.section.charts.push(chart);
  }

  note(text: string): void {
    this.section.notes.push(text);
  }

  /** A target judged outside a comparison table (it is listed with the others). */
  target(v: Verdict): void {
    this.section.targets.push(v);
  }

  done(): Section {
    return this.section;
  }
}

export class TableBuilder {
  constructor(
    private readonly table: Table,
    private readonly targets: Verdict[],
  ) {}

  row(cells: string[]): void {
    if (cells.length !== this.table.columns.length) throw new Error(`row of ${cells.length} cells in "${this.table.caption}" (${this.table.columns.length} columns)`);
    this.table.rows.push(cells);
  }

  /**
   * One row of COMPARE_COLUMNS: a subject's samples beside its baseline's (the baseline
   * may be undefined for absolute rows), with the baseline named in the cell.
   */
  compare(
    name: string,
    subject: number[],
    baseline: { label: string; samples: number[] } | undefined,
    { unit = MS, target }: { unit?: Unit; target?: Target } = {},
  ): { subject: Summary; baseline?: Summary; verdict?: Verdict } {
    const s = summarize(subject);
    const b = baseline && summarize(baseline.samples);
    const v = target && verdict(`${this.table.caption}: ${name}`, target, s, unit, b);
    if (v) this.targets.push(v);
    const diff = b && (unit.higherIsBetter ? b.median - s.median : s.median - b.median);
    this.row([
      name,
      b ? `${baseline!.label}: ${fmtSummary(b, unit)}` : "—",
      fmtSummary(s, unit),
      diff === undefined ? "—" : `${diff >= 0 ? "+" : "−"}${fmt(Math.abs(diff), unit)}`,
      b ? `${slowdown(s, b, unit).toFixed(2)}×` : "—",
      b && b.n !== s.n ? `${s.n} / ${b.n}` : String(s.n),
      v ? v.text : "—",
    ]);
    return { subject: s, ...(b ? { baseline: b } : {}), ...(v ? { verdict: v } : {}) };
  }
}
