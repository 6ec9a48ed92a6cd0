/** Draws a chart's vega-lite spec as SVG (vega's headless renderer: no canvas, no browser). */
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import type { Chart } from "./section.js";

export async function chartSvg(chart: Chart): Promise<string> {
  const spec = { width: 520, height: 260, title: chart.title, ...chart.spec } as unknown as TopLevelSpec;
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
