/**
 * The demo's step lines: "✔ sandbox ready (local)  0.4 s", each timed from the step
 * before it, plus indented detail lines and a total at the end.
 */
export type Write = (line: string) => void;

export class Steps {
  private readonly began: number;
  private mark: number;

  constructor(
    private readonly write: Write,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.began = this.mark = now();
  }

  /** Seconds since the last step (or `since`), one decimal. */
  private lap(since = this.mark): string {
    const t = this.now();
    const s = ((t - since) / 1000).toFixed(1);
    this.mark = t;
    return `${s} s`;
  }

  ok(text: string): void {
    this.write(`✔ ${text}  ${this.lap()}`);
  }

  /** A step that happened, with a warning attached. */
  warn(text: string): void {
    this.write(`! ${text}`);
  }

  /** The first line is the step; the rest is its detail. */
  fail(text: string): void {
    const [first, ...rest] = text.split("\n");
    this.write(`✖ ${first}  ${this.lap()}`);
    if (rest.length) this.detail(rest.join("\n"));
  }

  /** Detail under the current step; not timed. */
  detail(text: string): void {
    for (const line of text.split("\n")) this.write(`    ${line}`);
  }

  /** Starts timing the next step from now (after output that is not a step). */
  restart(): void {
    this.mark = this.now();
  }

  heading(text: string): void {
    this.write("");
    this.write(`── ${text}`);
  }

  /** Seconds since the demo began. */
  total(): number {
    return (this.now() - this.began) / 1000;
  }
}
