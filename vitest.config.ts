import { defineConfig } from "vitest/config";
import { LongestFirst } from "./tests/support/longest-first.ts";

export default defineConfig({
  test: {
    include: ["services/**/*.test.ts", "edge/**/*.test.ts", "deploy/**/*.test.ts", "tests/**/*.test.ts"],
    // One MariaDB and one nats-server for the whole run, started in temp dirs on free ports.
    globalSetup: ["tests/support/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // 2 cores: two test files at a time keeps the servers and the mesh responsive.
    maxWorkers: 2,
    sequence: { sequencer: LongestFirst },
  },
});
