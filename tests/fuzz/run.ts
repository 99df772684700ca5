// `npm run fuzz`: property-based and random-byte inputs against the edge and every service's own
// gRPC port, on a mesh of its own (private MariaDB and NATS in a temp dir), from a clean clone.
//
//   npm run fuzz -- [--duration 120] [--seed N] [--target edge,services,sockets,rate-limits]
//                   [--answer-ms 5000] [--rss-growth-mb 300] [--verbose]
//   npm run fuzz -- --target edge --seed N --path 12:3     replays the case a failure printed
//
// Exits 1 when any case failed: a process crashed, an answer was a server fault (5xx other than
// 503, internal/unknown), took too long or showed internals, or a process's memory grew too much.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startInfra } from "../../deploy/local/infra.ts";
import { runCampaign, targetNames, type TargetName } from "./campaign.ts";
import { startFuzzMesh } from "./fuzz-mesh.ts";
import { formatReport, isClean } from "./report.ts";

const { values: options } = parseArgs({
  options: {
    duration: { type: "string", default: "120" },
    seed: { type: "string" },
    path: { type: "string" },
    target: { type: "string", default: targetNames.join(",") },
    "answer-ms": { type: "string", default: "5000" },
    "rss-growth-mb": { type: "string", default: "300" },
    verbose: { type: "boolean", default: false },
  },
});

const log = (line: string) => process.stdout.write(`${line}\n`);
const targets = options.target!.split(",").map((name) => name.trim()) as TargetName[];
const unknown = targets.filter((name) => !targetNames.includes(name));
if (unknown.length > 0) throw new Error(`unknown target ${unknown.join(", ")}: choose from ${targetNames.join(", ")}`);
if (options.path !== undefined && (options.seed === undefined || targets.length !== 1)) {
  throw new Error("--path replays one case: give it with the --seed and the single --target the failure printed");
}
const seed = options.seed === undefined ? (Date.now() ^ (Math.random() * 0x7fff_ffff)) | 0 : Number(options.seed);

const work = mkdtempSync(join(tmpdir(), "bazaar-fuzz-"));
let clean = false;
try {
  log(`starting MariaDB, NATS and the mesh in ${work}`);
  const infra = await startInfra({ dataDir: join(work, "data") });
  try {
    const fuzzMesh = await startFuzzMesh({
      mysqlUrl: infra.mysqlUrl,
      natsUrl: infra.natsUrl,
      echoLogs: options.verbose ? process.stderr : undefined,
    });
    try {
      log(`mesh ready at ${fuzzMesh.mesh.edgeUrl}; seed ${seed}`);
      const report = await runCampaign(fuzzMesh, {
        seed,
        durationMs: Number(options.duration) * 1000,
        targets,
        replayPath: options.path,
        answerWithinMs: Number(options["answer-ms"]),
        rssGrowthLimitMiB: Number(options["rss-growth-mb"]),
        log,
      });
      log(`\n${formatReport(report)}`);
      clean = isClean(report);
    } finally {
      await fuzzMesh.stop();
    }
  } finally {
    await infra.stop();
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
process.exit(clean ? 0 : 1);
