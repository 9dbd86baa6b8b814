// Test layers of DESIGN.md: unit, kernel (real kernel, scratch namespaces), ssh (lab hosts), e2e (Pulumi CLI).
// Kernel and SSH tests need root; they fail loudly without it (see test/support/require-root.ts).
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.ts$": ["ts-jest", { tsconfig: "tsconfig.test.json" }] },
  maxWorkers: 2,
  testTimeout: 60000,
};
