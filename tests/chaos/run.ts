// `npm run chaos`: breaks every part of a running mesh in turn under load and checks that
// nothing was lost (see chaos.ts). Exits 1 when an invariant is violated.
//
//   npm run chaos -- [--down 5] [--recover 5] [--customers 12] [--browsers 4] [--settle 150]
import { parseArgs } from "node:util";
import { formatReport, runChaos } from "./chaos.ts";

const { values } = parseArgs({
  options: {
    down: { type: "string", default: "5" },
    recover: { type: "string", default: "5" },
    customers: { type: "string", default: "12" },
    browsers: { type: "string", default: "4" },
    settle: { type: "string", default: "150" },
  },
});
const positive = (name: keyof typeof values) => {
  const value = Number(values[name]);
  if (!Number.isFinite(value) || value <= 0) {
    process.stderr.write(`--${name} must be a positive number, got ${values[name]}\n`);
    process.exit(2);
  }
  return value;
};

const started = performance.now();
const report = await runChaos({
  downSeconds: positive("down"),
  recoverSeconds: positive("recover"),
  customers: positive("customers"),
  browsers: positive("browsers"),
  settleSeconds: positive("settle"),
  log: (line) => process.stdout.write(`[chaos] ${line}\n`),
});
process.stdout.write(
  `\n${formatReport(report)}\n\nChaos run took ${Math.round((performance.now() - started) / 1000)} s.\n`,
);
process.exit(report.violations.length === 0 ? 0 : 1);
