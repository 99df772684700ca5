// `npm start`: the whole mesh on this machine. A private MariaDB, NATS JetStream and S3-compatible
// object store (s3rver) under .data/ (or your own servers when BAZAAR_MYSQL_URL, BAZAAR_NATS_URL
// and BAZAAR_MEDIA_S3_ENDPOINT are set), a mail catcher, the services and the edge as separate
// processes with prefixed logs. Ctrl-C stops everything.
//
//   npm start -- [--replicas 2] [--nats-cluster 3]
//
// --replicas runs that many processes of each service, which callers balance over; --nats-cluster
// runs a NATS cluster of that many nodes on loopback, with the event stream copied to each.
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { startInfra, type RunningInfra } from "./infra.ts";
import { startMaildev, type RunningMaildev } from "./maildev.ts";
import { launchMesh, type RunningMesh } from "./mesh.ts";
import { serviceNatsEnv } from "./nats-users.ts";
import { startObjectStore, type RunningObjectStore } from "./object-store.ts";
import { firstFreePortFrom } from "./ports.ts";
import { devAccounts } from "../../services/kit/dev-accounts.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const env = process.env;
const started = performance.now();
const { replicas, natsClusterSize } = readArguments();

let infra: RunningInfra | undefined;
let mesh: RunningMesh | undefined;
let maildev: RunningMaildev | undefined;
let objectStore: RunningObjectStore | undefined;
let stopping = false;

async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    process.stdout.write("\nstopping…\n");
    await mesh?.stop();
    await infra?.stop();
    await maildev?.stop();
    await objectStore?.stop();
  }
  process.exit(code);
}
process.on("SIGINT", () => void stop(0));
process.on("SIGTERM", () => void stop(0));

try {
  let mysqlUrl = env.BAZAAR_MYSQL_URL;
  let natsUrl = env.BAZAAR_NATS_URL;
  // Our own NATS has a user per service; yours is used as you configured it.
  let natsUsers: Record<string, string> = {};
  if (!mysqlUrl || !natsUrl) {
    infra = await startInfra({
      dataDir: `${root}.data`,
      natsClusterSize,
      log: (line) => process.stdout.write(`[infra] ${line}\n`),
    });
    mysqlUrl ??= infra.mysqlUrl;
    if (!natsUrl) {
      natsUrl = infra.natsUrl;
      natsUsers = serviceNatsEnv(natsUrl);
    }
  }
  // Your own SMTP server when BAZAAR_NOTIFICATION_SMTP_URL is set; otherwise maildev catches the mail.
  if (!env.BAZAAR_NOTIFICATION_SMTP_URL) maildev = await startMaildev();
  // Your own S3-compatible store when BAZAAR_MEDIA_S3_ENDPOINT is set; otherwise s3rver keeps the
  // pictures under .data/s3, on a port that stays the same from one start to the next when it can
  // (order snapshots keep the URLs their pictures had).
  if (!env.BAZAAR_MEDIA_S3_ENDPOINT)
    objectStore = await startObjectStore({ directory: `${root}.data/s3`, port: await firstFreePortFrom(4569) });
  mesh = await launchMesh({
    root,
    replicas,
    env: {
      ...env,
      BAZAAR_MYSQL_URL: mysqlUrl,
      BAZAAR_NATS_URL: natsUrl,
      ...natsUsers,
      BAZAAR_NATS_STREAM_REPLICAS: env.BAZAAR_NATS_STREAM_REPLICAS ?? String(natsClusterSize),
      BAZAAR_DEMO_SEED: env.BAZAAR_DEMO_SEED ?? "1",
      // The product service's search index, kept from one start to the next.
      BAZAAR_PRODUCT_SEARCH_DIR: env.BAZAAR_PRODUCT_SEARCH_DIR ?? `${root}.data/search`,
      ...(maildev ? { BAZAAR_NOTIFICATION_SMTP_URL: maildev.smtpUrl } : {}),
      ...objectStore?.env,
    },
    output: process.stdout,
    onExit: (name, code) => {
      if (!stopping) {
        process.stdout.write(`[${name}] exited with code ${code}; stopping the mesh\n`);
        void stop(1);
      }
    },
  });
  await mesh.ready(90_000);
  const edge = mesh.edgeUrl;
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  process.stdout.write(`
Bazaar is up in ${seconds}s — edge at ${edge}${replicas > 1 ? ` — ${replicas} replicas of each service` : ""}${natsClusterSize > 1 ? ` — NATS cluster of ${natsClusterSize}` : ""}

${maildev ? `Mail inbox (maildev, LOCAL DEV ONLY): ${maildev.webUrl}\n` : ""}${objectStore ? `Pictures (s3rver, LOCAL DEV ONLY): ${objectStore.endpoint}/${objectStore.bucket}/ under .data/s3\n` : ""}
Dev accounts (LOCAL DEV ONLY):
${Object.values(devAccounts)
  .map((a) => `  ${a.email.padEnd(24)} ${a.password}`)
  .join("\n")}

Try:
  curl -s -X POST ${edge}/bazaar.product.v1.ProductService/ListProducts -H 'content-type: application/json' -d '{"pageSize": 3}'
  npx buf curl --schema proto --http2-prior-knowledge --protocol grpc --data '{"pageSize":3}' http://${mesh.addresses.product.split(",")[0]}/bazaar.product.v1.ProductService/ListProducts
  curl -s ${mesh.metricsUrl(mesh.processes[0]!)} | head

Ctrl-C stops everything.
`);
} catch (error) {
  process.stderr.write(`start failed: ${error instanceof Error ? error.message : String(error)}\n`);
  await stop(1);
}

function readArguments(): { replicas: number; natsClusterSize: number } {
  const usage = "usage: npm start -- [--replicas 1-4] [--nats-cluster 1|3|5]";
  try {
    const { values } = parseArgs({
      options: { replicas: { type: "string", default: "1" }, "nats-cluster": { type: "string", default: "1" } },
    });
    const replicas = Number(values.replicas);
    const natsClusterSize = Number(values["nats-cluster"]);
    if (!Number.isInteger(replicas) || replicas < 1 || replicas > 4)
      throw new Error(`--replicas must be 1 to 4, got ${values.replicas}`);
    // JetStream clusters need a majority to elect a leader: odd sizes only.
    if (![1, 3, 5].includes(natsClusterSize))
      throw new Error(`--nats-cluster must be 1, 3 or 5, got ${values["nats-cluster"]}`);
    return { replicas, natsClusterSize };
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${usage}\n`);
    process.exit(2);
  }
}
