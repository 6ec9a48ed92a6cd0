import { defineConfig } from "vitest/config";

// Two projects, run one after the other by `npm test`: the suite, then the reliability
// suite (faults, hostile input, secrets) alone and file by file, so that it neither starves
// nor is starved by the other tests. A third holds reliability files not yet seen green.
const PENDING = [
  "test/reliability/load-local.test.ts",
  "test/reliability/load-daytona.test.ts",
  "test/reliability/faults-kill.test.ts",
  "test/reliability/faults-disk.test.ts",
  "test/reliability/faults-sandbox.test.ts",
  "test/reliability/faults-state.test.ts",
];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    projects: [
      {
        extends: true,
        test: {
          name: "main",
          include: ["test/**/*.test.ts"],
          exclude: ["test/reliability/**"],
          // Integration and e2e tests start real sandboxes and real OpenCode; 2 cores.
          maxWorkers: 2,
        },
      },
      {
        extends: true,
        test: {
          name: "reliability",
          include: ["test/reliability/**/*.test.ts"],
          // Written, not yet seen green as a whole on a quiet machine (issue 16): run them with
          // `npm run test:reliability:pending`; each moves into the suite once it is.
          exclude: PENDING,
          fileParallelism: false,
          maxWorkers: 1,
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
      {
        extends: true,
        test: { name: "reliability-pending", include: PENDING, fileParallelism: false, maxWorkers: 1, testTimeout: 300_000, hookTimeout: 300_000 },
      },
    ],
  },
});
