// `npm test`: every check CI runs, in order, stopping at the first failure.
//   1. biome ci            TypeScript formatted and linted, import boundaries between services kept
//   2. buf lint            contracts follow the STANDARD rules
//   3. buf format          contracts are formatted
//   4. buf breaking        the wire contract is compatible with the last release (tag v*)
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
 * The newest release tag (v*) reachable from HEAD: the wire contract a change must stay compatible
 * with. Moving it is a deliberate act (tag a new release, with the reason in the commit).
 */
function lastReleaseTag(): string {
  const describe = () =>
    spawnSync("git", ["describe", "--tags", "--abbrev=0", "--match", "v*"], { cwd: root, encoding: "utf8" });
  let found = describe();
  if (found.status !== 0) {
    // A shallow or tag-less clone: ask the origin for the release tags before giving up.
    spawnSync("git", ["fetch", "--quiet", "--depth=1", "origin", "+refs/tags/v*:refs/tags/v*"], { cwd: root });
    found = describe();
  }
  if (found.status !== 0) {
    process.stdout.write(
      "✖ no release tag (v*) reachable from HEAD, so buf breaking has no contract to compare with.\n" +
        "  run: git fetch --tags origin   (a shallow clone also needs: git fetch --unshallow)\n",
    );
    process.exit(1);
  }
  return found.stdout.trim();
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
const released = lastReleaseTag();
step(`buf breaking against ${released}`, "buf", ["breaking", "--against", `.git#tag=${released}`]);
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
