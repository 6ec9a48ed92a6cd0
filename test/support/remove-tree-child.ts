/** Runs removeTree on OCSB_PATH as whatever user started it; prints the outcome as JSON. */
import { removeTree } from "../../.opencode/plugin/sandbox/providers/local/remove-tree.js";

const result = await removeTree(process.env.OCSB_PATH!);
console.log(JSON.stringify(result));
