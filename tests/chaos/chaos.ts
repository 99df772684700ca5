// A chaos run: a private MariaDB and nats-server, the whole mesh, a steady mix of browsing and
// checkouts, and then every part broken in turn — each service and the edge killed with SIGKILL,
// nats-server restarted, MariaDB restarted, the SMTP server the notification service mails
// through stopped, the object storage pictures go to stopped — each down for a few seconds (the
// storage at least 10). Afterwards the invariants (tests/support/invariants.ts) must hold, I9
// against the mails that SMTP server received, I10 against the bucket. Used by `npm run chaos`
// and, shorter, by `npm test`.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { AuthService } from "../../gen/bazaar/auth/v1/auth_pb.ts";
import { ProductService } from "../../gen/bazaar/product/v1/product_pb.ts";
import { startMariaDb, startNats, type RunningServer } from "../../deploy/local/infra.ts";
import { launchMesh, serviceNames, type RunningMesh } from "../../deploy/local/mesh.ts";
import { serviceNatsEnv } from "../../deploy/local/nats-users.ts";
import { startObjectStore, type RunningObjectStore } from "../../deploy/local/object-store.ts";
import { firstFreePortFrom } from "../../deploy/local/ports.ts";
import { devAccounts } from "../../services/kit/dev-accounts.ts";
import { unthrottled } from "../support/edge-limits.ts";
import { checkInvariants, mailsDeliveredOnce, picturesProcessed, type MailCount } from "../support/invariants.ts";
import { startMailbox, type Mailbox } from "../support/mailbox.ts";
import { jpegWithLocation } from "../support/pictures.ts";
import { devSellerShelf, registerCustomer } from "../support/shoppers.ts";
import { startWorkload, type WorkloadTally } from "./workload.ts";

export interface ChaosOptions {
  /** Seconds each part stays down. */
  downSeconds: number;
  /** Seconds of undisturbed load after each part is back, before the next fault. */
  recoverSeconds: number;
  customers: number;
  browsers: number;
  /** Longest wait for the invariants to hold once the load stops (redeliveries back off up to a minute). */
  settleSeconds: number;
  log: (line: string) => void;
}

export interface FaultOutcome {
  fault: string;
  /** Checkouts acknowledged while the part was down and until it was back. */
  checkoutsDuring: number;
  /** Checkouts acknowledged in the recovery window after it. */
  checkoutsAfter: number;
  backInMs: number;
}

export interface ChaosReport {
  faults: FaultOutcome[];
  tally: WorkloadTally;
  acknowledged: number;
  violations: string[];
  settledInMs: number;
  /** When I1–I8, I9 and I10 were last seen failing after the load stopped: which one the wait was for. */
  settledAtMs: { stores: number; mail: number; pictures: number };
  /** I9's figures: mails called for, delivered (distinct Message-IDs), resent under one. */
  mail: MailCount;
  /** Errors the processes logged about failed calls (their last lines), to explain unexpected answers. */
  failedCallLogs: string[];
}

const root = fileURLToPath(new URL("../..", import.meta.url));
const initialStock = 100_000;
const storageFault = "stop object storage";
/**
 * The issue asks for the storage to be away 10 s: long enough that an upload's worker fails
 * more than one delivery (redelivered after 1 s, then 5 s more) before the store is back.
 */
const storageDownSeconds = 10;

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const { log } = options;
  const dataDir = await mkdtemp(join(tmpdir(), "bazaar-chaos-"));
  let mysql: RunningServer | undefined;
  let nats: RunningServer | undefined;
  let mesh: RunningMesh | undefined;
  let mailbox: Mailbox | undefined;
  let objectStore: RunningObjectStore | undefined;
  try {
    // A range of its own (the test suite's meshes take theirs from 20000 up, the fuzzer's from
    // 31000): a random free port elsewhere could be taken by another mesh before this one binds.
    // MariaDB and NATS keep theirs across their restarts.
    const portBase = 30_000 + Math.floor(Math.random() * 45) * 20;
    const mysqlPort = await firstFreePortFrom(portBase);
    const natsPort = await firstFreePortFrom(mysqlPort + 1);
    mysql = await startMariaDb({ dataDir, port: mysqlPort });
    nats = await startNats({ dataDir, port: natsPort });
    // In this process, so it outlives every fault but its own; restart() reopens the same port.
    // Its stop cuts the sender's open connection at once, as a relay that goes away would.
    mailbox = await startMailbox();
    // The same for the pictures' object storage (s3rver); restart() reopens its port on its files.
    objectStore = await startObjectStore({ directory: join(dataDir, "s3") });
    const prefix = `chaos_${randomBytes(3).toString("hex")}`;
    const databases = Object.fromEntries(serviceNames.map((name) => [name, `${prefix}_${name}`]));
    mesh = await launchMesh({
      root,
      freePorts: true,
      portBase: natsPort + 1,
      env: {
        ...process.env,
        ...Object.fromEntries(serviceNames.map((name) => [`BAZAAR_${name.toUpperCase()}_DB`, databases[name]])),
        BAZAAR_MYSQL_URL: mysql.url,
        BAZAAR_NATS_URL: nats.url,
        ...serviceNatsEnv(nats.url),
        BAZAAR_DEMO_SEED: "1",
        BAZAAR_LOG_LEVEL: "error",
        // Orders a killed order service left PENDING are settled seconds after it is back.
        BAZAAR_ORDER_RECOVER_AFTER_MS: "3000",
        BAZAAR_ORDER_RECOVERY_SWEEP_MS: "500",
        // A 3-D Secure approval the workload gave up on cancels its order well within the settle time.
        BAZAAR_ORDER_PAYMENT_WAIT_SECONDS: "20",
        BAZAAR_NOTIFICATION_SMTP_URL: mailbox.smtpUrl,
        ...objectStore.env,
        // A processed picture's original leaves storage within a second, for I10 to see it gone.
        BAZAAR_MEDIA_CLEANUP_MS: "1000",
        ...unthrottled,
      },
    });
    const starting = mesh;
    await starting.ready(90_000).catch((error: Error) => {
      const logs = starting.processes.map((name) => `--- ${name}\n${starting.recentLogs(name).join("\n")}`).join("\n");
      throw new Error(`${error.message}\n${logs}`);
    });
    log(`mesh up at ${mesh.edgeUrl}`);

    const transport = createConnectTransport({ baseUrl: mesh.edgeUrl, httpVersion: "1.1" });
    const auth = createClient(AuthService, transport);
    const products = createClient(ProductService, transport);
    const { asSeller, shopId, categoryId } = await devSellerShelf(auth, products);
    // The dev seller's other shop: each checkout buys from both, so a cancellation is partial.
    const { products: shelf } = await products.listProducts({ sellerId: devAccounts.seller.id, pageSize: 100 });
    const otherShopId = shelf.map((p) => p.shopId).find((id) => id !== shopId)!;
    const productIds: string[] = [];
    for (let i = 0; i < 4; i++) {
      const { product } = await products.createProduct(
        {
          product: {
            shopId: i % 2 === 0 ? shopId : otherShopId,
            categoryId,
            name: `Chaos item ${i}`,
            price: { currencyCode: "USD", amountMinor: 500n },
            stockOnHand: initialStock,
          },
        },
        asSeller,
      );
      productIds.push(product!.id);
    }
    // Galleries for the seller's pictures, 20 each: with the chaos items' own, room for one every
    // 1.5 s for four minutes, longer than `npm run chaos` takes with its defaults.
    const galleryIds = [...productIds];
    for (let i = 0; i < 4; i++) {
      const { product } = await products.createProduct(
        {
          product: {
            shopId,
            categoryId,
            name: `Chaos gallery ${i}`,
            price: { currencyCode: "USD", amountMinor: 900n },
            stockOnHand: 1,
          },
        },
        asSeller,
      );
      galleryIds.push(product!.id);
    }
    const customers = await Promise.all(
      Array.from({ length: options.customers }, () => registerCustomer(auth, "chaos")),
    );
    const workload = startWorkload({
      edgeUrl: mesh.edgeUrl,
      customers,
      productIds,
      seller: asSeller,
      cancelEvery: 3,
      browsers: options.browsers,
      retryForMs: 60_000,
      pictures: { productIds: galleryIds, picture: await jpegWithLocation(400, 300), everyMs: 1_500 },
    });
    await pause(options.recoverSeconds);

    const faults: FaultOutcome[] = [];
    const running = mesh;
    const stores = { mysql, nats, mailbox, objectStore };
    // The notification service first: mails its killed process had claimed wait out their
    // 60 s lease before another claims them (and one it had sent but not marked is sent again
    // then). Killed first, that lease ends while the other faults run, so the settle time is
    // not spent waiting for it and a late resend is seen by I9 rather than after it passed.
    const killOrder = ["notification", ...serviceNames.filter((name) => name !== "notification"), "edge"];
    const breakings: Array<[string, () => Promise<void>, () => Promise<void>]> = [
      ...killOrder.map(
        (name) =>
          [`kill -9 ${name}`, () => running.kill(name, "SIGKILL"), async () => running.relaunch(name)] as [
            string,
            () => Promise<void>,
            () => Promise<void>,
          ],
      ),
      [
        "restart nats-server",
        () => stores.nats!.stop(),
        async () => void (stores.nats = nats = await startNats({ dataDir, port: natsPort })),
      ],
      [
        "restart MariaDB",
        () => stores.mysql!.stop(),
        async () => void (stores.mysql = mysql = await startMariaDb({ dataDir, port: mysqlPort })),
      ],
      // Mails fail to send meanwhile and are retried with backoff (1 s, 2 s, 4 s …): I9 says each
      // arrives once it is back, and only once.
      ["stop SMTP server", () => stores.mailbox.stop(), () => stores.mailbox.restart()],
      // Uploads and confirms fail meanwhile (unavailable, retried with the same upload), and the
      // worker's deliveries are redelivered with backoff: I10 says every confirmed picture ends
      // READY with its renditions stored all the same.
      [storageFault, () => stores.objectStore.stop(), () => stores.objectStore.restart()],
    ];
    for (const [fault, breakIt, restore] of breakings) {
      const before = workload.tally.checkouts;
      const downSeconds =
        fault === storageFault ? Math.max(storageDownSeconds, options.downSeconds) : options.downSeconds;
      log(`${fault}: down for ${downSeconds} s`);
      await breakIt();
      await pause(downSeconds);
      const started = performance.now();
      await restore();
      await running.ready(90_000);
      const backInMs = Math.round(performance.now() - started);
      const during = workload.tally.checkouts - before;
      await pause(options.recoverSeconds);
      const after = workload.tally.checkouts - before - during;
      faults.push({ fault, checkoutsDuring: during, checkoutsAfter: after, backInMs });
      log(
        `${fault}: back in ${backInMs} ms; ${during} checkouts acknowledged meanwhile, ${after} in the ${options.recoverSeconds} s after`,
      );
    }
    await workload.stop();
    const failedCallLogs = [...serviceNames, "edge"].flatMap((name) =>
      running
        .recentLogs(name)
        .filter((line) => line.includes("rpc failed"))
        .map((line) => `${name}: ${line.slice(0, 400)}`),
    );
    log(
      `load stopped: ${workload.tally.checkouts} checkouts, ${workload.tally.pictures} pictures, ${workload.tally.browses} browses; checking the invariants`,
    );

    const settleStarted = performance.now();
    const storesForChecks = { mysqlUrl: stores.mysql.url, natsUrl: stores.nats.url, databases };
    const initialOnHand = new Map(productIds.map((id) => [id, initialStock]));
    // A SIGKILL between the SMTP server's acceptance and the SENT mark resends that one mail.
    const resendsAllowed = breakings.filter(([fault]) => fault === "kill -9 notification").length;
    const settledAtMs = { stores: 0, mail: 0, pictures: 0 };
    const check = async () => {
      const mail = await mailsDeliveredOnce(
        storesForChecks,
        (await stores.mailbox.messages()).map((m) => ({
          messageId: m.messageId ?? "",
          to: [m.to ?? []].flat().flatMap((to) => to.value.map((a) => a.address ?? "")),
          subject: m.subject ?? "",
          text: m.text ?? "",
        })),
        resendsAllowed,
      );
      const core = await checkInvariants(storesForChecks, initialOnHand, workload.acknowledged);
      const pictures = await picturesProcessed(storesForChecks, stores.objectStore, workload.confirmedImages);
      const at = Math.round(performance.now() - settleStarted);
      if (core.length > 0) settledAtMs.stores = at;
      if (mail.problems.length > 0) settledAtMs.mail = at;
      if (pictures.length > 0) settledAtMs.pictures = at;
      return { violations: [...core, ...mail.problems, ...pictures], mail: mail.count };
    };
    // Mails still waiting out a retry's backoff arrive within seconds: poll briefly, not every 2 s.
    let checked = await check();
    while (checked.violations.length > 0 && performance.now() - settleStarted < options.settleSeconds * 1000) {
      await pause(1);
      checked = await check();
    }
    return {
      faults,
      tally: workload.tally,
      acknowledged: workload.acknowledged.length,
      violations: checked.violations,
      mail: checked.mail,
      settledInMs: Math.round(performance.now() - settleStarted),
      settledAtMs,
      failedCallLogs,
    };
  } finally {
    await mesh?.stop();
    await Promise.all([nats?.stop(), mysql?.stop(), mailbox?.stop(), objectStore?.stop()]);
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** The report as Markdown. */
export function formatReport(report: ChaosReport): string {
  const rows = report.faults.map((f) => `| ${f.fault} | ${f.backInMs} | ${f.checkoutsDuring} | ${f.checkoutsAfter} |`);
  const failures = [...report.tally.failures].map(([code, n]) => `${code} ${n}`).join(", ") || "none";
  return [
    "| fault | back in (ms) | checkouts while down | checkouts after |",
    "|---|---:|---:|---:|",
    ...rows,
    "",
    ...(report.tally.unexpected.length > 0
      ? [`Unexpected answers: ${report.tally.unexpected.join("; ")}`, ...report.failedCallLogs, ""]
      : []),
    ...(report.tally.changedSearches.length > 0
      ? [`Searches answered differently: ${report.tally.changedSearches.join("; ")}`, ""]
      : []),
    `Load: ${report.tally.checkouts} checkouts acknowledged (${report.acknowledged} order ids), ${report.tally.approvals} 3-D Secure approvals, ${report.tally.cancellations} shop orders cancelled by their seller, ${report.tally.browses} catalog reads (${report.tally.searches} searches); failed attempts retried: ${failures}; calls given up after retrying: ${report.tally.gaveUp}; refused: ${report.tally.refused.join("; ") || "none"}.`,
    `Pictures: ${report.tally.pictures} added to galleries (confirmed), ${report.tally.uploadsStartedOver} uploads begun again after their URL expired.`,
    `Mail: ${report.mail.expected} mails called for, ${report.mail.delivered} delivered (by Message-ID), ${report.mail.resent} resent under a Message-ID already delivered.`,
    report.violations.length === 0
      ? `Invariants I1–I10 hold (checked ${report.settledInMs} ms after the load stopped; I1–I8 last seen failing at ${report.settledAtMs.stores} ms, I9 at ${report.settledAtMs.mail} ms, I10 at ${report.settledAtMs.pictures} ms).`
      : `VIOLATIONS (${report.violations.length}):\n${report.violations.map((v) => `- ${v}`).join("\n")}`,
  ].join("\n");
}

function pause(seconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, seconds * 1000));
}
