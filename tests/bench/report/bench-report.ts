// Everything one bench run found, as saved: the JSON file is this object, and the Markdown and
// the chart are drawn from it.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { LagFigures } from "../event-lag.ts";
import type { Machine } from "../machine.ts";
import type { FailedRun } from "../run-scenarios.ts";
import { renderMarkdown } from "./markdown.ts";
import type { RatedMeasurement } from "./derived-figures.ts";
import { renderSweepChart } from "./svg-chart.ts";

export interface BenchReport {
  startedAt: string;
  machine: Machine;
  settings: {
    seconds: number;
    warmupSeconds: number;
    levels: number[];
    catalogSizes: number[];
    shoppers: number;
    /** The command line after `npm run bench --`. */
    arguments: string[];
  };
  measurements: RatedMeasurement[];
  failures: FailedRun[];
  eventLag?: { ratePerSecond: number; seconds: number; paths: LagFigures[] };
  /** Each process's memory once the mesh was up, before any load (see process-usage.ts). */
  idleMemory?: Array<{ name: string; rssMb: number; pssMb: number }>;
}

/** Writes <time>.md, .json and .svg into `directory`; returns the Markdown and the file stem. */
export function saveReport(report: BenchReport, directory: string): { markdown: string; files: string[] } {
  mkdirSync(directory, { recursive: true });
  const stem = join(directory, report.startedAt.replace(/[:.]/g, "-"));
  const markdown = renderMarkdown(report);
  const files = [`${stem}.md`, `${stem}.json`, `${stem}.svg`];
  writeFileSync(files[0]!, markdown);
  writeFileSync(files[1]!, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(files[2]!, renderSweepChart(report));
  return { markdown, files };
}
