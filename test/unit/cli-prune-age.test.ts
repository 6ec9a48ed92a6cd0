/** `prune --older-than`'s ages: minutes, hours, days; a bare number is days; anything else is a usage error. */
import { InvalidArgumentError } from "commander";
import { describe, expect, it } from "vitest";
import { parseAge } from "../../.opencode/plugin/sandbox/cli/prune.js";

describe("parseAge", () => {
  it.each([
    ["30m", 30 * 60_000],
    ["12h", 12 * 3_600_000],
    ["7d", 7 * 86_400_000],
    ["2", 2 * 86_400_000],
    ["0.5d", 43_200_000],
    ["0m", 0],
  ])("%s is %d ms", (text, ms) => expect(parseAge(text)).toBe(ms));

  it.each(["", "soon", "-1d", "7w", "1d2h", "d"])("%j is refused, naming the accepted form", (text) => {
    expect(() => parseAge(text)).toThrow(InvalidArgumentError);
    expect(() => parseAge(text)).toThrow("an age such as 7d, 12h or 30m");
  });
});
