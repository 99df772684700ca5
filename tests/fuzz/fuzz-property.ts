// One target's property under fast-check: generate a case, send it, judge it; for a set time,
// or once for a seed and path given to replay a failure. No shrinking: a case against live
// processes is not cheap, and after a crash every later case fails too, so the first failing
// case — its seed and path printed — is the one that matters.
import fc from "fast-check";

export interface CaseResult {
  problems: string[];
  outcome: string;
  ms: number;
  /** The request as sent, for the report. */
  request: string;
  /** The RPC called, when the case called one. */
  rpc?: string;
  /** Whether the RPC's own handler answered (the case got past decoding, auth and validation). */
  handled?: boolean;
}

export interface Tally {
  cases: number;
  outcomes: Map<string, number>;
  slowestMs: number;
  /** RPCs called, and those whose handler answered at least once. */
  rpcs: Set<string>;
  handled: Set<string>;
}

export interface PropertyFailure {
  seed: number;
  path: string;
  problems: string[];
  request: string;
}

export interface PropertyRun {
  tally: Tally;
  failure: PropertyFailure | undefined;
}

export type PropertyRunOptions = { seed: number; timeLimitMs: number } | { seed: number; replayPath: string };

class CaseFailed extends Error {
  readonly result: CaseResult;
  constructor(result: CaseResult) {
    super(result.problems.join("; "));
    this.result = result;
  }
}

export async function runProperty<T>(
  cases: fc.Arbitrary<T>,
  runCase: (value: T) => Promise<CaseResult>,
  options: PropertyRunOptions,
): Promise<PropertyRun> {
  const tally: Tally = { cases: 0, outcomes: new Map(), slowestMs: 0, rpcs: new Set(), handled: new Set() };
  const property = fc.asyncProperty(cases, async (value) => {
    const result = await runCase(value);
    tally.cases += 1;
    tally.outcomes.set(result.outcome, (tally.outcomes.get(result.outcome) ?? 0) + 1);
    tally.slowestMs = Math.max(tally.slowestMs, result.ms);
    if (result.rpc !== undefined) tally.rpcs.add(result.rpc);
    if (result.handled) tally.handled.add(result.rpc!);
    if (result.problems.length > 0) throw new CaseFailed(result);
  });
  const details = await fc.check(
    property,
    "replayPath" in options
      ? { seed: options.seed, path: options.replayPath, numRuns: 1, endOnFailure: true }
      : {
          seed: options.seed,
          numRuns: Number.MAX_SAFE_INTEGER,
          endOnFailure: true,
          plugins: [fc.interruptAfterTimeLimit(options.timeLimitMs)],
        },
  );
  if (!details.failed) return { tally, failure: undefined };
  const error = details.errorInstance;
  const result =
    error instanceof CaseFailed
      ? error.result
      : { problems: [`the fuzzer itself failed: ${(error as Error)?.stack ?? String(error)}`], request: "" };
  return {
    tally,
    failure: {
      seed: details.seed,
      path: details.counterexamplePath ?? "",
      problems: result.problems,
      request: result.request,
    },
  };
}
