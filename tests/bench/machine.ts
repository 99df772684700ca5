// What the figures were measured on: they mean little without the machine, the versions and how
// busy the box already was.
import { spawnSync } from "node:child_process";
import { cpus, loadavg, release, totalmem } from "node:os";
import { loadToolVersions } from "./load-tools.ts";

export interface Machine {
  cpu: string;
  cores: number;
  memoryGb: number;
  kernel: string;
  node: string;
  mariadb: string;
  natsServer: string;
  loadGenerators: Record<string, string>;
  /** 1-minute load average when the bench started: above zero, something else was running. */
  loadAverageAtStart: number;
}

export function describeMachine(): Machine {
  return {
    cpu: cpus()[0]?.model.trim() ?? "unknown",
    cores: cpus().length,
    memoryGb: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    mariadb: firstLine("mariadbd", ["--version"]),
    natsServer: firstLine("nats-server", ["--version"]),
    loadGenerators: loadToolVersions(),
    loadAverageAtStart: Number(loadavg()[0]!.toFixed(2)),
  };
}

function firstLine(command: string, args: string[]): string {
  const run = spawnSync(command, args, {
    encoding: "utf8",
    env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin` },
  });
  const line = `${run.stdout ?? ""}${run.stderr ?? ""}`.split("\n").find((text) => text.trim());
  return line?.replace(/\s+/g, " ").trim() ?? "not found";
}
