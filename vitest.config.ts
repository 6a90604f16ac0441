import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "src/**/*.spec.ts"],
    setupFiles: ["test/setup-fast-check.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Servers on loopback ports and child processes: keep each file in its own process.
    pool: "forks",
  },
});
