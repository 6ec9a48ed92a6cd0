/**
 * A tiny classic-BPF assembler, enough for a seccomp filter: loads of `seccomp_data`
 * words, compares, returns. Jumps name labels; the assembler turns them into the
 * 8-bit forward offsets the kernel wants and refuses what does not fit.
 * Output: `struct sock_filter[]` ({u16 code, u8 jt, u8 jf, u32 k}), native byte
 * order (only little-endian hosts are supported: x86_64, aarch64).
 */

const LD_W_ABS = 0x20; // BPF_LD | BPF_W | BPF_ABS
const JEQ_K = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const JGE_K = 0x35; // BPF_JMP | BPF_JGE | BPF_K
const JSET_K = 0x45; // BPF_JMP | BPF_JSET | BPF_K
const RET_K = 0x06; // BPF_RET | BPF_K

/** A jump target: a label, or 0 for "the next instruction". */
export type Target = string | 0;

export type Insn =
  | { op: "load"; offset: number }
  | { op: "jeq" | "jge" | "jset"; k: number; then: Target; else: Target }
  | { op: "ret"; k: number }
  | { op: "label"; name: string };

export class BpfError extends Error {
  override readonly name = "BpfError";
}

const JUMP_CODES = { jeq: JEQ_K, jge: JGE_K, jset: JSET_K } as const;

export function assemble(program: Insn[]): Buffer {
  const labels = new Map<string, number>();
  const code: Exclude<Insn, { op: "label" }>[] = [];
  for (const insn of program) {
    if (insn.op !== "label") code.push(insn);
    else if (labels.has(insn.name)) throw new BpfError(`label ${insn.name} defined twice`);
    else labels.set(insn.name, code.length);
  }
  if (code.length === 0 || code.length > 4096) throw new BpfError(`a filter has 1 to 4096 instructions, not ${code.length}`);
  const last = code[code.length - 1]!;
  if (last.op !== "ret") throw new BpfError("a filter must end with a return");
  const out = Buffer.alloc(code.length * 8);
  code.forEach((insn, pc) => {
    const offset = (target: Target) => {
      if (target === 0) return 0;
      const at = labels.get(target);
      if (at === undefined) throw new BpfError(`unknown label ${target}`);
      const distance = at - pc - 1;
      if (distance < 0 || distance > 255) throw new BpfError(`label ${target} is out of reach (${distance}) at instruction ${pc}`);
      return distance;
    };
    let op: number;
    let jt = 0;
    let jf = 0;
    let k: number;
    if (insn.op === "load") [op, k] = [LD_W_ABS, insn.offset];
    else if (insn.op === "ret") [op, k] = [RET_K, insn.k];
    else [op, jt, jf, k] = [JUMP_CODES[insn.op], offset(insn.then), offset(insn.else), insn.k];
    out.writeUInt16LE(op, pc * 8);
    out.writeUInt8(jt, pc * 8 + 2);
    out.writeUInt8(jf, pc * 8 + 3);
    out.writeUInt32LE(k >>> 0, pc * 8 + 4);
  });
  return out;
}
