// The short fuzz campaign of `npm test`: the same code as `npm run fuzz`, on a mesh of its own,
// for about a minute. The seed is fixed so runs meet the same inputs (BAZAAR_FUZZ_SEED picks
// another, BAZAAR_FUZZ_SECONDS a longer run); a failure prints the command that replays it.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startNats, type RunningServer } from "../../deploy/local/infra.ts";
import { runCampaign, targetNames, type CampaignReport, type Problem } from "./campaign.ts";
import { foundBugs } from "./found-bugs.ts";
import { startFuzzMesh, type FuzzMesh } from "./fuzz-mesh.ts";
import { formatReport } from "./report.ts";

const seed = Number(process.env.BAZAAR_FUZZ_SEED ?? 20_261_123);
const seconds = Number(process.env.BAZAAR_FUZZ_SECONDS ?? 50);
const rssGrowthLimitMiB = 300;

let natsDir: string;
let nats: RunningServer;
let fuzzMesh: FuzzMesh;
let report: CampaignReport;
let summary: string;
const problemsOf = (kind: Problem["kind"]) =>
  report.problems.filter((problem) => problem.kind === kind).map((problem) => problem.text);

beforeAll(
  async () => {
    natsDir = await mkdtemp(join(tmpdir(), "bazaar-fuzz-nats-"));
    // A NATS of its own: the mesh's durable consumers must not meet another test file's.
    nats = await startNats({ dataDir: natsDir });
    fuzzMesh = await startFuzzMesh({ mysqlUrl: inject("mysqlUrl"), natsUrl: nats.url });
    report = await runCampaign(fuzzMesh, {
      seed,
      durationMs: seconds * 1000,
      targets: targetNames,
      answerWithinMs: 5_000,
      rssGrowthLimitMiB,
      log: () => {},
    });
    summary = formatReport(report);
  },
  120_000 + seconds * 2_000,
);

afterAll(async () => {
  await fuzzMesh?.stop();
  await nats?.stop();
  if (natsDir) await rm(natsDir, { recursive: true, force: true });
});

describe(`fuzzing the mesh for ${seconds} s from seed ${seed}`, () => {
  it("when every bug found so far is sent again, then each gets its proper answer", () => {
    expect(report.foundBugsReplayed).toBe(foundBugs.length);
    expect(problemsOf("found bug back"), summary).toEqual([]);
  });

  it("when generated and random input reaches the edge, the services and their sockets, then no case crashes a process, gets a server fault or hangs", () => {
    expect(
      report.failures.map((failure) => `${failure.target}: ${failure.problems.join("; ")}`),
      summary,
    ).toEqual([]);
    expect(problemsOf("mesh"), summary).toEqual([]);
  });

  it("when the campaign has run, then every target was fuzzed and handlers were reached past decoding, auth and validation", () => {
    expect(report.targets.map(({ target }) => target)).toEqual([...targetNames]);
    for (const { target, tally } of report.targets) expect(tally.cases, `${target}\n${summary}`).toBeGreaterThan(200);
    const reached = (target: string) => report.targets.find((t) => t.target === target)!.tally;
    // Measured with this seed: ~60% of public RPCs through the edge, ~40% of all RPCs on the services' ports.
    expect(reached("edge").handled.size / reached("edge").rpcs.size, summary).toBeGreaterThan(0.3);
    expect(reached("services").handled.size / reached("services").rpcs.size, summary).toBeGreaterThan(0.2);
  });

  it("when the edge runs with its default rate limits, then over-eager clients are refused with resource_exhausted", () => {
    // checkRateLimitRefusals sends bursts past the default burst from one address, per protocol,
    // and reports a problem when none was refused or a refusal was not resource_exhausted. (The
    // random cases that follow under the same limits trip them only when the fuzzer gets enough
    // CPU to send 100 a second: beside the chaos run it did not, so they prove nothing here.)
    expect(
      report.targets.some(({ target }) => target === "rate-limits"),
      summary,
    ).toBe(true);
    expect(problemsOf("rate limits"), summary).toEqual([]);
  });

  it(`when the campaign has run, then no process's resident memory grew by more than ${rssGrowthLimitMiB} MiB`, () => {
    expect(problemsOf("memory"), summary).toEqual([]);
    expect(report.memory.map(({ process }) => process)).toEqual(
      expect.arrayContaining(["auth", "product", "cart", "order", "admin", "edge", "edge (restarted)"]),
    );
  });
});
