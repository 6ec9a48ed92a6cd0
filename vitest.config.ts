import { defineConfig } from "vitest/config";

// Two projects, run one after the other by `npm test`: the suite, then the reliability
// suite (load, faults, hostile input, secrets) alone and file by file, so that it neither
// starves nor is starved by the other tests.

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
          fileParallelism: false,
          maxWorkers: 1,
          // Tests a file marks concurrent (the kill cases) run two at a time: 2 cores.
          maxConcurrency: 2,
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
