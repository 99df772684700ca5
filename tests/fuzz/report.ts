// The campaign's report as text: cases, outcomes and handlers reached per target, memory per
// process, and each failure with the command that replays it.
import type { CampaignReport } from "./campaign.ts";

export function isClean(report: CampaignReport): boolean {
  return report.failures.length === 0 && report.problems.length === 0;
}

export function formatReport(report: CampaignReport): string {
  const lines: string[] = [];
  if (report.foundBugsReplayed > 0) lines.push(`found bugs: ${report.foundBugsReplayed} replayed`);
  for (const { target, seed, ms, tally } of report.targets) {
    const outcomes = [...tally.outcomes].sort((a, b) => b[1] - a[1]).map(([outcome, count]) => `${outcome} ×${count}`);
    const handlers =
      tally.rpcs.size > 0 ? `, handlers reached in ${tally.handled.size} of ${tally.rpcs.size} RPCs` : "";
    lines.push(
      `${target}: ${tally.cases} cases in ${(ms / 1000).toFixed(1)} s (${Math.round(tally.cases / (ms / 1000))}/s), slowest answer ${Math.round(tally.slowestMs)} ms${handlers}, seed ${seed}`,
      `  ${outcomes.slice(0, 14).join(", ")}${outcomes.length > 14 ? `, … ${outcomes.length - 14} more` : ""}`,
    );
    const unreached = [...tally.rpcs].filter((rpc) => !tally.handled.has(rpc)).map((rpc) => rpc.split(".").at(-1));
    if (unreached.length > 0) lines.push(`  handlers not reached: ${unreached.sort().join(", ")}`);
  }
  lines.push("resident memory (MiB), start → peak → end:");
  lines.push(
    `  ${report.memory.map(({ process, startMiB, peakMiB, endMiB }) => `${process} ${startMiB} → ${peakMiB} → ${endMiB}`).join(", ")}`,
  );
  for (const failure of report.failures) {
    lines.push(
      "",
      `✖ ${failure.target}: a case failed`,
      ...failure.problems.map((problem) => `  - ${problem}`),
      `  request:\n${indent(failure.request, 4)}`,
      `  replay: npm run fuzz -- --target ${failure.target} --seed ${failure.seed} --path ${failure.path}`,
    );
  }
  for (const problem of report.problems) lines.push("", `✖ ${problem.kind}: ${problem.text}`);
  lines.push(
    "",
    isClean(report)
      ? "✔ no crash, no server fault, no hang, memory within the limit"
      : `${report.failures.length + report.problems.length} problem(s)`,
  );
  return lines.join("\n");
}

function indent(text: string, spaces: number): string {
  return text
    .split("\n")
    .map((line) => " ".repeat(spaces) + line)
    .join("\n");
}
