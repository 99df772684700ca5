// CPU and memory of every process taking part in a run, read from /proc (Linux): CPU time over
// the measured phase only (warm-up and unmeasured setup phases are paused out), so CPU per
// request is exact; memory as the highest resident set seen while sampling, and the highest
// proportional set (PSS): the resident set counts in full the pages of the node binary and its
// libraries that every Node process of the mesh maps and shares (~35 MB of Node alone's ~43);
// PSS counts each shared page divided by the processes sharing it, so the mesh's PSS adds up to
// what it really holds.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

export interface ProcessUsage {
  name: string;
  /** CPU time spent while measuring. */
  cpuSeconds: number;
  /** The same as a percentage of one core (the box has few cores, so 100% is a whole one). */
  cpuPercent: number;
  peakRssMb: number;
  peakPssMb: number;
}

const clockTicksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

interface Watched {
  name: string;
  pid: number;
  /** Ticks at the last resume(). */
  mark: number;
  /** The latest reading; a process that has exited keeps its last one. */
  last: number;
  /** Ticks of the measuring phases before the current one. */
  counted: number;
  peakRssKb: number;
  peakPssKb: number;
}

/**
 * Samples named processes (several pids may share a name) until stop(), counting CPU only while
 * resumed. It starts paused: the runner resumes it when the warm-up is over.
 */
export class UsageSampler {
  readonly #watched: Watched[] = [];
  readonly #timer: NodeJS.Timeout;
  #resumedAt: number | undefined;
  #measuredMs = 0;

  constructor(processes: Iterable<readonly [string, number]>, intervalMs = 200) {
    for (const [name, pid] of processes) this.watch(name, pid);
    this.#timer = setInterval(() => this.#sample(), intervalMs);
  }

  /** Adds a process, also one started during the run (a load generator). */
  watch(name: string, pid: number): void {
    const ticks = cpuTicks(pid);
    if (ticks === undefined) return;
    // A process that starts while measuring counts from its start.
    const mark = this.#resumedAt === undefined ? ticks : 0;
    const { rssKb = 0, pssKb = 0 } = memoryKb(pid) ?? {};
    this.#watched.push({ name, pid, mark, last: ticks, counted: 0, peakRssKb: rssKb, peakPssKb: pssKb });
  }

  resume(): void {
    if (this.#resumedAt !== undefined) return;
    this.#sample();
    for (const w of this.#watched) w.mark = w.last;
    this.#resumedAt = performance.now();
  }

  pause(): void {
    if (this.#resumedAt === undefined) return;
    this.#sample();
    for (const w of this.#watched) w.counted += w.last - w.mark;
    this.#measuredMs += performance.now() - this.#resumedAt;
    this.#resumedAt = undefined;
  }

  stop(): ProcessUsage[] {
    this.pause();
    clearInterval(this.#timer);
    const seconds = this.#measuredMs / 1000;
    const byName = new Map<string, ProcessUsage>();
    for (const w of this.#watched) {
      const usage = byName.get(w.name) ?? { name: w.name, cpuSeconds: 0, cpuPercent: 0, peakRssMb: 0, peakPssMb: 0 };
      usage.cpuSeconds += w.counted / clockTicksPerSecond;
      usage.cpuPercent = seconds > 0 ? (usage.cpuSeconds / seconds) * 100 : 0;
      // Processes of one name run one after the other (a warm-up run, then the measured one).
      usage.peakRssMb = Math.max(usage.peakRssMb, w.peakRssKb / 1024);
      usage.peakPssMb = Math.max(usage.peakPssMb, w.peakPssKb / 1024);
      byName.set(w.name, usage);
    }
    return [...byName.values()];
  }

  // A generator's final moments after the last reading are lost: at most one interval of a run
  // of seconds.
  #sample(): void {
    for (const w of this.#watched) {
      w.last = cpuTicks(w.pid) ?? w.last;
      const memory = memoryKb(w.pid);
      if (!memory) continue;
      w.peakRssKb = Math.max(w.peakRssKb, memory.rssKb);
      w.peakPssKb = Math.max(w.peakPssKb, memory.pssKb);
    }
  }
}

/** utime + stime of all the process's threads, in clock ticks. */
function cpuTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name in parentheses may hold spaces; fields are counted after it.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

/** Resident and proportional set of a process now, from one read of smaps_rollup. */
export function memoryKb(pid: number): { rssKb: number; pssKb: number } | undefined {
  try {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(rollup)?.[1] ?? 0);
    return { rssKb: field("Rss"), pssKb: field("Pss") };
  } catch {
    return undefined;
  }
}

/** The process listening on a local TCP port, found through its socket's inode. */
export function pidListeningOn(port: number): number | undefined {
  const listening = "0A";
  const inodes = new Set<string>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = "";
    try {
      text = readFileSync(table, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      const localPort = parseInt(fields[1]?.split(":")[1] ?? "", 16);
      if (localPort === port && fields[3] === listening) inodes.add(fields[9]!);
    }
  }
  if (inodes.size === 0) return undefined;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${entry}/fd/${fd}`))?.[1];
        if (inode && inodes.has(inode)) return Number(entry);
      } catch {
        // The descriptor closed while being read.
      }
    }
  }
  return undefined;
}
