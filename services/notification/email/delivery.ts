// Sends due mails from email_outbox over SMTP (nodemailer).
//
// Each tick a loop CLAIMS a batch first (one UPDATE sets lease_holder/lease_until on rows nobody
// holds), then sends only the rows it claimed: two loops (replicas) never send the same row while
// its lease lasts. Delivery is at-least-once across crashes: a replica that dies after the SMTP
// server accepted a mail but before marking it SENT leaves the row PENDING, and it is sent again
// once the lease expires (one resend per such crash). The outbox id is the Message-ID, so a
// receiver can drop the duplicate. A database that is away while a mail is marked SENT is waited
// for (within the lease), so its restart sends nothing twice; a mail that fails to render is
// retried and dead-lettered like one the server refused, and never holds up the others.
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import type { Kysely } from "kysely";
import nodemailer from "nodemailer";
import { Counter } from "prom-client";
import type { PeriodicJob } from "../../kit/lifecycle.ts";
import type { Logger } from "../../kit/log.ts";
import { registry } from "../../kit/metrics.ts";
import { claimDueMails, markMailFailed, markMailSent } from "../db/email-outbox.repository.ts";
import type { MailConfig } from "./config.ts";
import type { EmailTables } from "./database.ts";
import type { MailTemplate } from "./outbox.ts";
import { renderMail } from "./templates.ts";

const mailsSent = new Counter({
  name: "bazaar_notification_mails_total",
  help: "Outbox mails by outcome: sent, retried (attempt failed, will retry), dead (gave up)",
  labelNames: ["outcome"],
  registers: [registry],
});

export interface MailDeps {
  db: Kysely<any>;
  log: Logger;
  config: MailConfig;
}

/** Retry delay after `attempts` failed attempts: backoff, 2×, 4× … capped. */
export function retryDelayMs(attempts: number, config: Pick<MailConfig, "backoffMs" | "maxBackoffMs">): number {
  return Math.min(config.maxBackoffMs, config.backoffMs * 2 ** Math.max(0, attempts - 1));
}

/** Account mails' links hold a secret token: once a mail is SENT or DEAD the outbox drops it. */
const accountTemplates = new Set<string>(["password-reset", "email-verification"]);
function withoutSecrets(template: string, data: Record<string, unknown>): Record<string, unknown> {
  return accountTemplates.has(template) ? { ...data, link: "" } : data;
}

/** A lease long enough for one batch's SMTP conversations. */
const LEASE_MS = 60_000;
const BATCH = 20;

export interface MailSender {
  /** Sends a batch of due mails; resolves to how many it claimed. */
  deliverDue(): Promise<number>;
  close(): void;
}

export function createMailSender(
  deps: MailDeps,
  holder = `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`,
): MailSender {
  const db = deps.db as Kysely<EmailTables>;
  const { config, log } = deps;
  // nodemailer waits 2 minutes for a connection and 10 for a silent server by default: one stuck
  // conversation would hold every other mail that long. Pooled: a connection (TCP, greeting,
  // EHLO, maybe TLS and AUTH) per mail held delivery to ~9 mails a second on a local server —
  // fewer than a busy checkout minute calls for; over a kept connection a backlog drains at once.
  const transport = nodemailer.createTransport(
    {
      url: config.smtpUrl,
      pool: true,
      maxConnections: 1,
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 30_000,
    },
    { from: config.from },
  );
  const messageDomain = new URL(config.publicUrl).hostname || "bazaar.local";
  let claims = 0;

  return {
    close: () => transport.close(),
    async deliverDue() {
      // Claim first, send after: a row this loop did not lease is never sent by it.
      // Each claim its own name: the rows it returns are this claim's, never an earlier one's
      // that a run still works on (one that overran its tick).
      const claim = `${holder.slice(0, 48)}:${++claims}`;
      const rows = await claimDueMails(db, claim, LEASE_MS, BATCH);
      for (const row of rows) {
        const messageId = `<${row.id}@${messageDomain}>`;
        let data: Record<string, unknown>;
        try {
          data = (typeof row.data === "string" ? JSON.parse(row.data) : row.data) as Record<string, unknown>;
          if (typeof data.link === "string" && data.link.startsWith("/"))
            data.link = new URL(data.link, config.publicUrl).href;
          const mail = renderMail(row.template as MailTemplate, data);
          const info = await transport.sendMail({ to: row.to_address, messageId, ...mail });
          // The SMTP server has it: from here on only the SENT mark is missing, and a mail the
          // server accepted must not be sent again because the database was away a moment.
          await untilStored(() =>
            markMailSent(db, row.id, claim, info.messageId || messageId, withoutSecrets(row.template, data)),
          );
          mailsSent.inc({ outcome: "sent" });
        } catch (error) {
          // A mail that cannot be rendered fails like one the server refused: retried, then DEAD,
          // and never in the way of the rest of the batch.
          const attempts = row.attempts + 1;
          // The SMTP error text, never the mail: it may carry the link.
          const reason = String((error as Error).message ?? error).slice(0, 1000);
          const dead = attempts >= config.maxAttempts;
          await markMailFailed(db, row.id, claim, {
            status: dead ? "DEAD" : "PENDING",
            attempts,
            error: reason,
            retryMs: retryDelayMs(attempts, config),
            deadData: dead ? withoutSecrets(row.template, parsedOrEmpty(row.data)) : undefined,
          });
          mailsSent.inc({ outcome: dead ? "dead" : "retried" });
          const fields = { mailId: row.id, template: row.template, attempts, err: reason };
          if (dead) log.error(fields, "mail given up after the attempt limit (DEAD)");
          else log.warn(fields, "mail not sent; will retry");
        }
      }
      return rows.length;
    },
  };
}

/** The notification service's e-mail jobs, for ServiceSpec.jobs. */
export function mailJobs(deps: MailDeps): PeriodicJob[] {
  const sender = createMailSender(deps);
  return [{ name: "notification-mail-delivery", everyMs: deps.config.pollMs, run: () => deliverBacklog(sender) }];
}

/**
 * One tick's work: a full batch means more are due (a backlog after an SMTP outage), so batches
 * follow at the server's pace rather than one per tick, for at most `budgetMs` so a tick stays short.
 */
export async function deliverBacklog(sender: MailSender, budgetMs = 5_000): Promise<void> {
  const until = Date.now() + budgetMs;
  while ((await sender.deliverDue()) === BATCH && Date.now() < until);
}

/** Stores what must not be lost, again and again while the database is away (within the lease). */
async function untilStored(store: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + LEASE_MS / 2;
  for (let delay = 100; ; delay = Math.min(delay * 2, 2_000)) {
    try {
      return await store();
    } catch (error) {
      if (Date.now() + delay > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

function parsedOrEmpty(data: unknown): Record<string, unknown> {
  try {
    return (typeof data === "string" ? JSON.parse(data) : data) as Record<string, unknown>;
  } catch {
    return {};
  }
}
