/**
 * The built-in edit's matching rules: exact first, then a chain of tolerant matchers
 * (trimmed lines, first/last-line anchors with fuzzy middle, collapsed whitespace,
 * shifted indentation, unescaped sequences, trimmed boundaries, context anchors).
 * Each matcher proposes spans of the *file* that stand for `find`; the first span that
 * occurs exactly once wins. Replacement text is always inserted literally.
 */

export const ERR_IDENTICAL = "No changes to apply: oldString and newString are identical.";
export const ERR_EMPTY_OLD =
  "oldString cannot be empty when editing an existing file. Provide the exact text to replace, or use write for an intentional full-file replacement.";
export const ERR_NOT_FOUND =
  "Could not find oldString in the file. It must match exactly, including whitespace, indentation, and line endings.";
export const ERR_MULTIPLE = "Found multiple matches for oldString. Provide more surrounding context to make the match unique.";
export const ERR_TOO_LARGE =
  "Refusing replacement because the matched span is much larger than oldString. Re-read the file and provide the full exact oldString for the intended replacement.";

type Replacer = (content: string, find: string) => Iterable<string>;

const SINGLE_CANDIDATE_THRESHOLD = 0.65;
const MULTIPLE_CANDIDATES_THRESHOLD = 0.65;

function levenshtein(a: string, b: string): number {
  if (a === "" || b === "") return Math.max(a.length, b.length);
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/** The file text spanning whole lines [first, last] (no trailing newline). */
function spanOfLines(lines: string[], first: number, last: number): { start: number; end: number } {
  let start = 0;
  for (let i = 0; i < first; i++) start += lines[i].length + 1;
  let end = start;
  for (let i = first; i <= last; i++) {
    end += lines[i].length;
    if (i < last) end += 1;
  }
  return { start, end };
}

/** Every window of `size` consecutive lines, joined back with "\n". */
function* windows(lines: string[], size: number): Generator<string> {
  for (let i = 0; i <= lines.length - size; i++) yield lines.slice(i, i + size).join("\n");
}

const simple: Replacer = function* (_content, find) {
  yield find;
};

const lineTrimmed: Replacer = function* (content, find) {
  const lines = content.split("\n");
  const wanted = find.split("\n");
  if (wanted[wanted.length - 1] === "") wanted.pop();
  for (let i = 0; i <= lines.length - wanted.length; i++) {
    let ok = true;
    for (let j = 0; j < wanted.length; j++) {
      if (lines[i + j].trim() !== wanted[j].trim()) {
        ok = false;
        break;
      }
    }
    if (!ok) continue;
    const { start, end } = spanOfLines(lines, i, i + wanted.length - 1);
    yield content.substring(start, end);
  }
};

/** Similarity of the middle lines of a block to the middle lines of `wanted` (first/last are the anchors). */
function middleSimilarity(lines: string[], first: number, blockSize: number, wanted: string[], earlyExit: boolean): number {
  const compared = Math.min(wanted.length - 2, blockSize - 2);
  if (compared <= 0) return 1;
  let score = 0;
  for (let k = 1; k < wanted.length - 1 && k < blockSize - 1; k++) {
    const have = lines[first + k].trim();
    const want = wanted[k].trim();
    const longest = Math.max(have.length, want.length);
    if (longest === 0) continue;
    const step = 1 - levenshtein(have, want) / longest;
    if (earlyExit) {
      score += step / compared;
      if (score >= SINGLE_CANDIDATE_THRESHOLD) break;
    } else score += step;
  }
  return earlyExit ? score : score / compared;
}

const blockAnchor: Replacer = function* (content, find) {
  const lines = content.split("\n");
  const wanted = find.split("\n");
  if (wanted.length < 3) return;
  if (wanted[wanted.length - 1] === "") wanted.pop();
  const firstLine = wanted[0].trim();
  const lastLine = wanted[wanted.length - 1].trim();
  const size = wanted.length;
  const slack = Math.max(1, Math.floor(size * 0.25));
  const candidates: { first: number; last: number }[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== firstLine) continue;
    for (let j = i + 2; j < lines.length; j++) {
      if (lines[j].trim() === lastLine) {
        if (Math.abs(j - i + 1 - size) <= slack) candidates.push({ first: i, last: j });
        break;
      }
    }
  }
  if (candidates.length === 0) return;
  if (candidates.length === 1) {
    const { first, last } = candidates[0];
    const score = middleSimilarity(lines, first, last - first + 1, wanted, true);
    if (score >= SINGLE_CANDIDATE_THRESHOLD) {
      const { start, end } = spanOfLines(lines, first, last);
      yield content.substring(start, end);
    }
    return;
  }
  let best: { first: number; last: number } | undefined;
  let bestScore = -1;
  for (const c of candidates) {
    const score = middleSimilarity(lines, c.first, c.last - c.first + 1, wanted, false);
    if (score > bestScore) {
      bestScore = score;
      best = c;
    }
  }
  if (best && bestScore >= MULTIPLE_CANDIDATES_THRESHOLD) {
    const { start, end } = spanOfLines(lines, best.first, best.last);
    yield content.substring(start, end);
  }
};

const whitespaceNormalized: Replacer = function* (content, find) {
  const norm = (s: string) => s.replace(/\s+/g, " ").trim();
  const wanted = norm(find);
  const lines = content.split("\n");
  for (const line of lines) {
    if (norm(line) === wanted) yield line;
    else if (norm(line).includes(wanted)) {
      const words = find.trim().split(/\s+/);
      if (words.length > 0) {
        const pattern = words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("\\s+");
        try {
          const match = line.match(new RegExp(pattern));
          if (match) yield match[0];
        } catch {}
      }
    }
  }
  const findLines = find.split("\n");
  if (findLines.length > 1) {
    for (const block of windows(lines, findLines.length)) if (norm(block) === wanted) yield block;
  }
};

const indentationFlexible: Replacer = function* (content, find) {
  const dedent = (text: string) => {
    const lines = text.split("\n");
    const nonEmpty = lines.filter((l) => l.trim().length > 0);
    if (nonEmpty.length === 0) return text;
    const indent = Math.min(...nonEmpty.map((l) => /^(\s*)/.exec(l)![1].length));
    return lines.map((l) => (l.trim().length === 0 ? l : l.slice(indent))).join("\n");
  };
  const wanted = dedent(find);
  const size = find.split("\n").length;
  for (const block of windows(content.split("\n"), size)) if (dedent(block) === wanted) yield block;
};

const ESCAPES: Record<string, string> = { n: "\n", t: "\t", r: "\r", "'": "'", '"': '"', "`": "`", "\\": "\\", "\n": "\n", $: "$" };

const escapeNormalized: Replacer = function* (content, find) {
  const unescape = (s: string) => s.replace(/\\(n|t|r|'|"|`|\\|\n|\$)/g, (all, ch: string) => ESCAPES[ch] ?? all);
  const wanted = unescape(find);
  if (content.includes(wanted)) yield wanted;
  const size = wanted.split("\n").length;
  for (const block of windows(content.split("\n"), size)) if (unescape(block) === wanted) yield block;
};

const trimmedBoundary: Replacer = function* (content, find) {
  const trimmed = find.trim();
  if (trimmed === find) return;
  if (content.includes(trimmed)) yield trimmed;
  const size = find.split("\n").length;
  for (const block of windows(content.split("\n"), size)) if (block.trim() === trimmed) yield block;
};

const contextAware: Replacer = function* (content, find) {
  const wanted = find.split("\n");
  if (wanted.length < 3) return;
  if (wanted[wanted.length - 1] === "") wanted.pop();
  const lines = content.split("\n");
  const firstLine = wanted[0].trim();
  const lastLine = wanted[wanted.length - 1].trim();
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== firstLine) continue;
    for (let j = i + 2; j < lines.length; j++) {
      if (lines[j].trim() !== lastLine) continue;
      const block = lines.slice(i, j + 1);
      if (block.length === wanted.length) {
        let same = 0;
        let compared = 0;
        for (let k = 1; k < block.length - 1; k++) {
          const have = block[k].trim();
          const want = wanted[k].trim();
          if (have.length > 0 || want.length > 0) {
            compared++;
            if (have === want) same++;
          }
        }
        if (compared === 0 || same / compared >= 0.5) {
          yield block.join("\n");
          break;
        }
      }
      break;
    }
  }
};

const multiOccurrence: Replacer = function* (content, find) {
  let from = 0;
  for (;;) {
    const at = content.indexOf(find, from);
    if (at === -1) break;
    yield find;
    from = at + find.length;
  }
};

const CHAIN: Replacer[] = [
  simple,
  lineTrimmed,
  blockAnchor,
  whitespaceNormalized,
  indentationFlexible,
  escapeNormalized,
  trimmedBoundary,
  contextAware,
  multiOccurrence,
];

/** A fuzzy match that swallowed far more than the model wrote is refused (it would delete code). */
function spanTooLarge(match: string, find: string): boolean {
  const findLines = find.split("\n").length;
  if (match.split("\n").length >= Math.max(findLines + 3, findLines * 2)) return true;
  if (findLines === 1) return false;
  return match.trim().length > Math.max(find.trim().length + 500, find.trim().length * 4);
}

/** Every occurrence, literally: unlike String.prototype.replaceAll, `$&`, `$1`, `$$` are not patterns. */
export function replaceAllLiteral(content: string, search: string, replacement: string): string {
  if (search === "") {
    // Same positions as "abc".replaceAll("", x): before every UTF-16 unit and at the end.
    let out = replacement;
    for (let i = 0; i < content.length; i++) out += content[i] + replacement;
    return out;
  }
  return content.split(search).join(replacement);
}

/** Apply one edit; throws the built-in's error texts. */
export function replace(content: string, oldString: string, newString: string, replaceAll = false): string {
  if (oldString === newString) throw new Error(ERR_IDENTICAL);
  if (oldString === "") throw new Error(ERR_EMPTY_OLD);
  let notFound = true;
  for (const replacer of CHAIN) {
    for (const candidate of replacer(content, oldString)) {
      const at = content.indexOf(candidate);
      if (at === -1) continue;
      notFound = false;
      if (spanTooLarge(candidate, oldString)) throw new Error(ERR_TOO_LARGE);
      if (replaceAll) return replaceAllLiteral(content, candidate, newString);
      if (at !== content.lastIndexOf(candidate)) continue;
      return content.substring(0, at) + newString + content.substring(at + candidate.length);
    }
  }
  throw new Error(notFound ? ERR_NOT_FOUND : ERR_MULTIPLE);
}
