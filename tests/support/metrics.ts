// Prometheus text read back in tests.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text format → samples (comments skipped). */
export function parseMetrics(text: string): Sample[] {
  return text
    .split("\n")
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => {
      const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!match) throw new Error(`not a sample line: ${line}`);
      const labels = Object.fromEntries(
        [...(match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]),
      );
      return { name: match[1]!, labels, value: Number(match[3]) };
    });
}

/** Calls a process served, health checks left out: did callers send it any work? */
export function workServed(samples: Sample[]): number {
  return samples
    .filter((s) => s.name === "grpc_server_handled_total" && s.labels.grpc_service !== "grpc.health.v1.Health")
    .reduce((sum, s) => sum + s.value, 0);
}

/** A process's /metrics, read now. */
export async function scrapeMetrics(url: string): Promise<Sample[]> {
  return parseMetrics(await (await fetch(url)).text());
}

/** The sum of every sample of `name` whose labels include `labels`. */
export function totalOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([key, value]) => s.labels[key] === value))
    .reduce((sum, s) => sum + s.value, 0);
}
