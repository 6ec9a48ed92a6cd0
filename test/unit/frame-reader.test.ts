/**
 * The host's frame parser (providers/local/protocol.ts): however the socket splits the
 * bytes, frames come out whole and in order, and streamed types (file data, command
 * output) come out as pieces that add up to their bodies — no empty piece but an empty
 * frame's, never a byte of an oversized frame, nothing after a stop.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { encodeFrame, FrameReader, type FrameType } from "../../.opencode/plugin/sandbox/providers/local/protocol.js";

const frames: [FrameType, Buffer][] = [
  ["H", Buffer.from(JSON.stringify({ magic: "m" }))],
  ["D", randomBytes(50_000)],
  ["D", Buffer.alloc(0)],
  ["O", Buffer.from("héllo wörld ✓ ".repeat(500))],
  ["D", randomBytes(3)],
  ["X", Buffer.from(JSON.stringify({ exitCode: 0 }))],
];
const wire = Buffer.concat(frames.flatMap(([type, body]) => encodeFrame(type, body)));

/** Consecutive pieces of one frame glued back: what a reader that only appends sees. */
function parse(chunkSize: number, streamed: (type: string) => boolean) {
  const out: { type: string; body: Buffer }[] = [];
  const calls: { type: string; length: number }[] = [];
  const reader = new FrameReader(
    (type, body) => {
      calls.push({ type, length: body.length });
      out.push({ type, body: Buffer.from(body) });
    },
    () => Infinity,
    () => {},
    streamed,
  );
  for (let at = 0; at < wire.length; at += chunkSize) reader.push(wire.subarray(at, at + chunkSize));
  return { out, calls };
}

describe("FrameReader", () => {
  it.each([1, 5, 7, 4096, 65_536, wire.length])("whole frames, split every %i bytes", (chunkSize) => {
    const { out } = parse(chunkSize, () => false);
    expect(out.map((f) => f.type)).toEqual(frames.map(([t]) => t));
    out.forEach((f, i) => expect(f.body.equals(frames[i]![1])).toBe(true));
  });

  it.each([1, 5, 7, 4096, 65_536, wire.length])("streamed D and O, split every %i bytes: pieces add up, none empty", (chunkSize) => {
    const { out, calls } = parse(chunkSize, (t) => t === "D" || t === "O");
    // The one empty data frame arrives as an empty body, as it always did; no piece is empty otherwise.
    expect(calls.filter((c) => c.length === 0)).toEqual([{ type: "D", length: 0 }]);
    // Glue runs of one type back together (the empty D frame joins the D before it).
    const runs: { type: string; pieces: Buffer[] }[] = [];
    for (const f of out) {
      const last = runs[runs.length - 1];
      if (last && last.type === f.type && (f.type === "D" || f.type === "O")) last.pieces.push(f.body);
      else runs.push({ type: f.type, pieces: [f.body] });
    }
    const glued = runs.map((r) => ({ type: r.type, body: Buffer.concat(r.pieces) }));
    const expected = frames.filter(([t, b]) => !(t === "D" && b.length === 0));
    // The two data frames on either side of O stay apart (O lies between them).
    expect(glued.map((f) => f.type)).toEqual(expected.map(([t]) => t));
    glued.forEach((f, i) => expect(f.body.equals(expected[i]![1])).toBe(true));
    if (chunkSize < 50_000) expect(calls.filter((c) => c.type === "D").length).toBeGreaterThan(2);
  });

  it.each([true, false])("an oversized frame stops the reader before any of its body (streamed: %s)", (isStreamed) => {
    const got: string[] = [];
    const oversized: unknown[] = [];
    const reader = new FrameReader((type) => got.push(type), (type) => (type === "D" ? 10 : Infinity), (f) => oversized.push(f), () => isStreamed);
    reader.push(Buffer.concat([...encodeFrame("X", "{}"), ...encodeFrame("D", randomBytes(11)), ...encodeFrame("X", "{}")]));
    expect(got).toEqual(["X"]);
    expect(oversized).toEqual([{ type: "D", size: 11, cap: 10 }]);
  });

  it("a stop from inside a streamed piece ends delivery", () => {
    const got: number[] = [];
    const reader: FrameReader = new FrameReader(
      (_type, body) => {
        got.push(body.length);
        reader.stop();
      },
      () => Infinity,
      () => {},
      () => true,
    );
    const bytes = Buffer.concat(encodeFrame("D", randomBytes(100)));
    reader.push(bytes.subarray(0, 50));
    reader.push(bytes.subarray(50));
    expect(got).toEqual([45]);
  });
});
