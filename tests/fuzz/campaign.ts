// A fuzz campaign against a running mesh: first the requests of every bug found so far, then the
// edge over every protocol, each service's own gRPC port, raw bytes on both, and last the edge
// again under its default rate limits. Each target gets its share of the time; every case is
// judged with what the mesh logged and whether a process exited, and each process's memory is
// followed throughout.
import type fc from "fast-check";
import { serviceNames } from "../../deploy/local/mesh.ts";
import type { ServiceName } from "../../services/kit/config.ts";
import { CaseRunner } from "./case-runner.ts";
import { catalogIds, signIn } from "./credentials.ts";
import { EdgeFuzz, type EdgeCase } from "./edge-cases.ts";
import { HttpExchanger } from "./exchange.ts";
import { checkFoundBug, foundBugs } from "./found-bugs.ts";
import type { FuzzMesh } from "./fuzz-mesh.ts";
import { runProperty, type CaseResult, type PropertyFailure, type Tally } from "./fuzz-property.ts";
import { MemoryWatch, type MemoryUse } from "./memory-watch.ts";
import { Payloads } from "./payloads.ts";
import type { SendContext } from "./prepared-call.ts";
import { checkRateLimitRefusals } from "./rate-limit-check.ts";
import { ServiceFuzz, type ServiceCase } from "./service-cases.ts";
import { socketCaseBytes, socketCases, type SocketCase } from "./socket-cases.ts";
import { loadFuzzTargets } from "./targets.ts";

export const targetNames = ["edge", "services", "sockets", "rate-limits"] as const;
export type TargetName = (typeof targetNames)[number];

/** Each target's part of the campaign's time. */
const shares: Record<TargetName, number> = { edge: 0.5, services: 0.3, sockets: 0.08, "rate-limits": 0.12 };

export interface CampaignOptions {
  seed: number;
  durationMs: number;
  targets: readonly TargetName[];
  /** Replays one case of the single target given, instead of fuzzing for a time. */
  replayPath?: string;
  /** Longest wait for any answer (a connection to close, for raw bytes). */
  answerWithinMs: number;
  /** Largest rise of any process's resident memory over its start. */
  rssGrowthLimitMiB: number;
  log(line: string): void;
}

export interface Problem {
  kind: "found bug back" | "rate limits" | "mesh" | "memory";
  text: string;
}

export interface TargetReport {
  target: TargetName;
  seed: number;
  ms: number;
  tally: Tally;
}

export interface CampaignReport {
  foundBugsReplayed: number;
  targets: TargetReport[];
  failures: Array<PropertyFailure & { target: TargetName }>;
  /** What no single fuzzed case is blamed for. */
  problems: Problem[];
  memory: MemoryUse[];
}

/** How long a streamed answer is read before the fuzzer cancels it. */
const streamWindowMs = 150;
/** Requests per protocol in the rate-limit burst: twice the default burst of 200 per address. */
const rateLimitBurst = 400;
/** Codes only a method's own handler gives: a case that got one went past decoding, auth and validation. */
const handlerCodes = / (ok|not_found|already_exists|failed_precondition)$/;

export async function runCampaign(fuzzMesh: FuzzMesh, options: CampaignOptions): Promise<CampaignReport> {
  const { mesh } = fuzzMesh;
  const report: CampaignReport = { foundBugsReplayed: 0, targets: [], failures: [], problems: [], memory: [] };
  const memory = new MemoryWatch(mesh);
  const [targets, known, credentials] = await Promise.all([
    loadFuzzTargets(),
    catalogIds(mesh.edgeUrl),
    signIn(mesh.edgeUrl, mesh.addresses.auth, fuzzMesh.serviceSecret),
  ]);
  // Long runs outlive access tokens; renewal replaces them in place.
  const renewal = setInterval(
    () => credentials.renew().catch((error) => options.log(`token renewal failed: ${error}`)),
    20 * 60_000,
  );
  const exchanger = new HttpExchanger({ answerWithinMs: options.answerWithinMs, streamWindowMs });
  const runner = new CaseRunner(fuzzMesh, exchanger, options.answerWithinMs);
  const context: SendContext = {
    edgeOrigin: mesh.edgeUrl,
    serviceOrigins: Object.fromEntries(serviceNames.map((name) => [name, `http://${mesh.addresses[name]}`])) as Record<
      ServiceName,
      string
    >,
    tokens: credentials.tokens,
  };
  const originOf = (target: "edge" | ServiceName) =>
    target === "edge" ? context.edgeOrigin : context.serviceOrigins[target];
  const payloads = new Payloads(known);
  const edge = new EdgeFuzz(targets, payloads, known);
  const services = new ServiceFuzz(targets, payloads);
  const withHandler =
    (rpc: string | undefined) =>
    (result: CaseResult): CaseResult => ({
      ...result,
      rpc,
      handled: rpc !== undefined && handlerCodes.test(result.outcome),
    });
  const runners: Record<TargetName, () => [fc.Arbitrary<unknown>, (value: never) => Promise<CaseResult>]> = {
    edge: () => [
      edge.cases,
      (value: EdgeCase) => runner.sendHttp("edge", edge.prepare(value, context)).then(withHandler(edge.rpcOf(value))),
    ],
    services: () => [
      services.cases,
      (value: ServiceCase) =>
        runner.sendHttp("services", services.prepare(value, context)).then(withHandler(services.rpcOf(value))),
    ],
    sockets: () => [
      socketCases(["edge", ...serviceNames]),
      (value: SocketCase) =>
        runner.sendBytes(value.target, new URL(originOf(value.target)).host, socketCaseBytes(value)),
    ],
    "rate-limits": () => [
      edge.cases,
      (value: EdgeCase) => runner.sendHttp("rate-limits", edge.prepare(value, context)),
    ],
  };

  try {
    if (options.replayPath === undefined) {
      options.log(`▶ the ${foundBugs.length} bugs found so far`);
      for (const found of foundBugs) {
        const grpc = found.call.headers.some(
          ([name, value]) => name === "content-type" && value.startsWith("application/grpc"),
        );
        const prepared = {
          call: { ...found.call, origin: originOf(found.target) },
          facts: { clientDeadline: false, grpc, toService: found.target !== "edge" },
        };
        const result = await runner.sendHttp("found", prepared, (exchange) =>
          exchange.kind === "answer" ? checkFoundBug(found, exchange.answer) : [],
        );
        report.foundBugsReplayed += 1;
        if (result.problems.length > 0) {
          report.problems.push({
            kind: "found bug back",
            text: `a found bug is back: ${found.bug}\n  - ${result.problems.join("\n  - ")}\n${result.request}`,
          });
        }
      }
    }
    for (const [index, target] of options.targets.entries()) {
      if (target === "rate-limits") {
        options.log("restarting the edge with its default rate limits");
        await fuzzMesh.withDefaultRateLimits();
        memory.rebase("edge");
        const refusals = await checkRateLimitRefusals(exchanger, mesh.edgeUrl, rateLimitBurst, options.answerWithinMs);
        report.problems.push(...refusals.map((text) => ({ kind: "rate limits" as const, text })));
      }
      const seed = options.replayPath === undefined ? (options.seed + index) | 0 : options.seed;
      const timeLimitMs = Math.max(1_000, options.durationMs * (shares[target] / totalShare(options.targets)));
      options.log(
        options.replayPath === undefined
          ? `▶ ${target}: ${Math.round(timeLimitMs / 1000)} s, seed ${seed}`
          : `▶ ${target}: replaying seed ${seed} path ${options.replayPath}`,
      );
      const started = performance.now();
      const [cases, runCase] = runners[target]();
      const run = await runProperty(
        cases,
        runCase as (value: unknown) => Promise<CaseResult>,
        options.replayPath === undefined ? { seed, timeLimitMs } : { seed, replayPath: options.replayPath },
      );
      report.targets.push({ target, seed, ms: performance.now() - started, tally: run.tally });
      if (run.failure) report.failures.push({ ...run.failure, target });
      await new Promise((resolve) => setTimeout(resolve, 300));
      const meshProblem = (text: string) => report.problems.push({ kind: "mesh", text });
      for (const failure of runner.lateFailures()) meshProblem(failure);
      const crashed = fuzzMesh.processes.takeCrashes();
      for (const { name, code } of crashed) meshProblem(`the ${name} process exited (code ${code}) during ${target}`);
      const gone = mesh.processes.filter((name) => !isAlive(mesh.pid(name)));
      for (const name of gone) meshProblem(`the ${name} process is not running after ${target}`);
      if (
        crashed.length > 0 ||
        gone.length > 0 ||
        run.failure?.problems.some((problem) => problem.includes("process exited"))
      ) {
        meshProblem("the mesh lost a process: the remaining targets were not run");
        break;
      }
    }
    if (!(await answersReadiness(mesh.edgeUrl)))
      report.problems.push({ kind: "mesh", text: "the edge's /readyz did not answer 200 after the campaign" });
  } finally {
    clearInterval(renewal);
    exchanger.close();
    credentials.close();
    report.memory = memory.stop();
  }
  for (const { process, startMiB, peakMiB } of report.memory) {
    if (peakMiB - startMiB > options.rssGrowthLimitMiB) {
      report.problems.push({
        kind: "memory",
        text: `${process} grew from ${startMiB} MiB to ${peakMiB} MiB resident, past the limit of +${options.rssGrowthLimitMiB} MiB`,
      });
    }
  }
  return report;
}

function isAlive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function totalShare(targets: readonly TargetName[]): number {
  return targets.reduce((sum, target) => sum + shares[target], 0);
}

async function answersReadiness(edgeUrl: string): Promise<boolean> {
  for (let attempt = 0; attempt < 10; attempt++) {
    try {
      if ((await fetch(`${edgeUrl}/readyz`, { signal: AbortSignal.timeout(2_000) })).ok) return true;
    } catch {
      // not yet
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return false;
}
