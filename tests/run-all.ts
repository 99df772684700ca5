// `npm test`: every check CI runs, in order, stopping at the first failure.
//   1. biome ci            TypeScript formatted and linted, import boundaries between services kept
//   2. buf lint            contracts follow the STANDARD rules
//   3. buf format          contracts are formatted
//   4. buf breaking        the wire contract is compatible with the last release (.ci/released-contracts)
//   5. gen freshness       `buf generate` into a temp dir equals the committed gen/
//   6. tsc --noEmit        the whole tree type-checks
//   7. vitest              unit, integration (real MariaDB + nats-server) and e2e tests
// Extra arguments go to vitest, e.g. `npm test -- services/kit`.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

function step(title: string, command: string, args: string[]): void {
  const started = performance.now();
  process.stdout.write(`\n▶ ${title}\n`);
  const result = spawnSync(command, args, { cwd: root, stdio: "inherit" });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  if (result.status !== 0) {
    process.stdout.write(`✖ ${title} failed after ${seconds}s\n`);
    process.exit(result.status ?? 1);
  }
  process.stdout.write(`✔ ${title} (${seconds}s)\n`);
}

function filesUnder(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const walk = (current: string) => {
    for (const name of readdirSync(current)) {
      const path = join(current, name);
      if (statSync(path).isDirectory()) walk(path);
      else files.set(relative(dir, path), readFileSync(path));
    }
  };
  walk(dir);
  return files;
}

/**
 * The newest released contract: a snapshot of buf.yaml + proto/ taken from its release tag and
 * committed under .ci/released-contracts/<version>/, so the check needs neither tags nor history
 * (CI clones main alone). Releasing moves it on purpose:
 *   mkdir -p .ci/released-contracts/vX.Y.Z && git archive vX.Y.Z buf.yaml proto | tar -x -C $_
 */
function lastReleasedContract(): string {
  const dir = join(root, ".ci", "released-contracts");
  const versions = readdirSync(dir)
    .filter((name) => /^v\d+\.\d+\.\d+$/.test(name))
    .sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
  const newest = versions.at(-1);
  if (newest === undefined) {
    process.stdout.write(
      `✖ no released contract under ${relative(root, dir)}, so buf breaking has nothing to compare with\n`,
    );
    process.exit(1);
  }
  return relative(root, join(dir, newest));
}

function checkGeneratedCodeIsFresh(): void {
  const out = mkdtempSync(join(tmpdir(), "bazaar-gen-"));
  try {
    step("buf generate (into a temp dir)", "buf", ["generate", "--output", out]);
    const fresh = filesUnder(join(out, "gen"));
    const committed = filesUnder(join(root, "gen"));
    const stale = [...new Set([...fresh.keys(), ...committed.keys()])].filter(
      (file) => !fresh.get(file)?.equals(committed.get(file) ?? Buffer.alloc(0)),
    );
    if (stale.length > 0) {
      process.stdout.write(`✖ gen/ does not match proto/: ${stale.join(", ")}\n  run: npm run generate\n`);
      process.exit(1);
    }
    process.stdout.write(`✔ gen/ matches proto/ (${fresh.size} files)\n`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

step("biome ci", "biome", ["ci", "--max-diagnostics=50", "."]);
step("buf lint", "buf", ["lint"]);
step("buf format --exit-code", "buf", ["format", "--exit-code", "--diff"]);
const released = lastReleasedContract();
step(`buf breaking against ${released}`, "buf", ["breaking", "--against", released]);
checkGeneratedCodeIsFresh();
step("tsc --noEmit", "tsc", ["--noEmit", "-p", "tsconfig.json"]);
// vitest last, closing with one plain line that CI systems read: "N passed, N failed".
const report = join(mkdtempSync(join(tmpdir(), "bazaar-vitest-")), "report.json");
process.stdout.write("\n▶ vitest\n");
const vitest = spawnSync(
  "vitest",
  ["run", "--reporter=default", "--reporter=json", `--outputFile.json=${report}`, ...process.argv.slice(2)],
  {
    cwd: root,
    stdio: "inherit",
  },
);
try {
  const { numPassedTests, numFailedTests, numPendingTests } = JSON.parse(readFileSync(report, "utf8"));
  process.stdout.write(
    `\n${numPassedTests} passed, ${numFailedTests} failed${numPendingTests ? `, ${numPendingTests} skipped` : ""}\n`,
  );
} catch {
  process.stdout.write("\nvitest wrote no report\n");
}
process.exit(vitest.status ?? 1);
