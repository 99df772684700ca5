// Resident memory of each mesh process over a campaign, sampled every second: where it started,
// its peak and where it ended. A process started again (the edge, for the rate-limit phase) is
// followed as a new one from its own start.
import { readFileSync } from "node:fs";
import type { RunningMesh } from "../../deploy/local/mesh.ts";

export interface MemoryUse {
  process: string;
  startMiB: number;
  peakMiB: number;
  endMiB: number;
}

export class MemoryWatch {
  readonly #mesh: RunningMesh;
  /** By "name@pid", in the order first seen. */
  readonly #uses = new Map<string, MemoryUse>();
  readonly #timer: NodeJS.Timeout;

  constructor(mesh: RunningMesh, intervalMs = 1_000) {
    this.#mesh = mesh;
    this.sample();
    this.#timer = setInterval(() => this.sample(), intervalMs).unref();
  }

  sample(): void {
    for (const name of this.#mesh.processes) {
      const pid = this.#mesh.pid(name);
      const rss = rssMiB(pid);
      if (pid === undefined || rss === undefined) continue;
      const key = `${name}@${pid}`;
      const use = this.#uses.get(key);
      if (!use) {
        const restarted = [...this.#uses.keys()].some((seen) => seen.startsWith(`${name}@`));
        this.#uses.set(key, {
          process: restarted ? `${name} (restarted)` : name,
          startMiB: rss,
          peakMiB: rss,
          endMiB: rss,
        });
      } else {
        use.peakMiB = Math.max(use.peakMiB, rss);
        use.endMiB = rss;
      }
    }
  }

  /** Starts following `name` afresh from now (a restarted process, once it is ready). */
  rebase(name: string): void {
    const pid = this.#mesh.pid(name);
    const rss = rssMiB(pid);
    const use = this.#uses.get(`${name}@${pid}`);
    if (use && rss !== undefined) Object.assign(use, { startMiB: rss, peakMiB: rss, endMiB: rss });
    else this.sample();
  }

  stop(): MemoryUse[] {
    clearInterval(this.#timer);
    this.sample();
    return [...this.#uses.values()];
  }
}

function rssMiB(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const kib = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return kib === undefined ? undefined : Math.round(Number(kib) / 1024);
  } catch {
    return undefined;
  }
}
