// A scenario is one thing to measure — a baseline or a path through the mesh — and how to load
// it at a given concurrency. The runner owns the order, the progress lines and the CPU sampling.
import { runClosedLoop, type Call } from "../load/closed-loop.ts";
import type { LoadFigures, LoadGenerator } from "../load/figures.ts";
import { runH2load } from "../load/h2load.ts";
import type { HttpLoad } from "../load/http-load.ts";
import { Http2Connections } from "../load/http2-client.ts";
import { runWrk } from "../load/wrk.ts";

export interface RunContext {
  concurrency: number;
  warmupSeconds: number;
  seconds: number;
  /** A private directory for generator files. */
  workDir: string;
  /** Reports a process started for this run (the load generator) for CPU and memory. */
  watch(name: string, pid: number): void;
  /** CPU is counted only between resume() and pause(); see Scenario.phases. */
  sampling: { resume(): void; pause(): void };
}

export interface Scenario {
  /** Stable, dotted: "edge.get-product.anonymous.http1"; --only selects by prefix. */
  id: string;
  title: string;
  kind: "baseline" | "scenario";
  generator: LoadGenerator;
  protocol: "HTTP/1.1" | "h2c" | "gRPC" | "MySQL" | "JetStream" | "in-process";
  /** Measured at every --concurrency level when true, otherwise once at `concurrency`. */
  sweep: boolean;
  concurrency?: number;
  /** The raw HTTP baseline of the same protocol and load generator this is divided by. */
  rawBaseline?: string;
  /** The database baseline, for paths whose cost is mostly queries or transactions. */
  dbBaseline?: string;
  /** Products in the catalog when measured, for the queries whose cost depends on it. */
  catalogSize?: number;
  /**
   * "self": the scenario resumes and pauses CPU sampling around its measured phases itself;
   * otherwise sampling starts when the warm-up is over.
   */
  phases?: "self";
  /** Runs before each measurement, unmeasured (e.g. emptying the carts a scenario fills). */
  prepare?(run: RunContext): Promise<void>;
  measure(run: RunContext): Promise<LoadFigures>;
}

type ScenarioShape = Omit<Scenario, "generator" | "measure" | "kind"> & { kind?: Scenario["kind"] };

/** The same request over and over from h2load (HTTP/2) or wrk (HTTP/1.1). */
export function fixedRequestScenario(
  shape: ScenarioShape,
  generator: "h2load" | "wrk",
  request: Pick<HttpLoad, "url" | "body" | "headers" | "method">,
): Scenario {
  const runGenerator = generator === "h2load" ? runH2load : runWrk;
  return {
    kind: "scenario",
    ...shape,
    generator,
    measure: (run) => runGenerator({ ...request, ...run, onStart: (pid) => run.watch(generator, pid) }),
  };
}

/** Requests from the bench's own HTTP/2 client over up to 8 connections, shared round-robin by worker. */
export function nodeDriverScenario(
  shape: ScenarioShape,
  origin: string,
  call: (connections: Http2Connections, worker: number) => ReturnType<Call<number>>,
): Scenario {
  return {
    kind: "scenario",
    ...shape,
    generator: "node driver",
    async measure(run) {
      const connections = new Http2Connections(origin, Math.min(run.concurrency, 8));
      try {
        return await runClosedLoop({ ...run, call: (worker) => call(connections, worker) });
      } finally {
        await connections.close();
      }
    },
  };
}
