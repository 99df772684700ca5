// Sends due mails from email_outbox over SMTP (nodemailer).
//
// Each tick a loop CLAIMS a batch first (one UPDATE sets lease_holder/lease_until on rows nobody
// holds), then sends only the rows it claimed: two loops (replicas) never send the same row while
// its lease lasts. Delivery is at-least-once across crashes: a replica that dies after the SMTP
// server accepted a mail but before marking it SENT leaves the row PENDING, and it is sent again
// once the lease expires (one resend per such crash). The outbox id is the Message-ID, so a
// receiver can drop the duplicate.
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { sql, type Kysely } from "kysely";
import nodemailer from "nodemailer";
import { Counter } from "prom-client";
import type { PeriodicJob } from "../../kit/lifecycle.ts";
import type { Logger } from "../../kit/log.ts";
import { registry } from "../../kit/metrics.ts";
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
  const transport = nodemailer.createTransport(config.smtpUrl, { from: config.from });
  const messageDomain = new URL(config.publicUrl).hostname || "bazaar.local";

  return {
    close: () => transport.close(),
    async deliverDue() {
      // Claim first: the row lock of this UPDATE decides between loops claiming at once.
      const claimed = await db
        .updateTable("email_outbox")
        .set({
          lease_holder: holder,
          lease_until: sql<Date>`UTC_TIMESTAMP(6) + INTERVAL ${LEASE_MS * 1000} MICROSECOND`,
        })
        .where("status", "=", "PENDING")
        .where("next_attempt_at", "<=", sql<Date>`UTC_TIMESTAMP(6)`)
        .where((eb) => eb.or([eb("lease_until", "is", null), eb("lease_until", "<", sql<Date>`UTC_TIMESTAMP(6)`)]))
        .orderBy("next_attempt_at")
        .limit(BATCH)
        .executeTakeFirst();
      if (Number(claimed.numUpdatedRows) === 0) return 0;
      const rows = await db
        .selectFrom("email_outbox")
        .selectAll()
        .where("lease_holder", "=", holder)
        .where("status", "=", "PENDING")
        .where("lease_until", ">", sql<Date>`UTC_TIMESTAMP(6)`)
        .execute();
      for (const row of rows) {
        const data = (typeof row.data === "string" ? JSON.parse(row.data) : row.data) as Record<string, unknown>;
        if (typeof data.link === "string" && data.link.startsWith("/"))
          data.link = new URL(data.link, config.publicUrl).href;
        const mail = renderMail(row.template as MailTemplate, data);
        const messageId = `<${row.id}@${messageDomain}>`;
        try {
          const info = await transport.sendMail({ to: row.to_address, messageId, ...mail });
          const kept = withoutSecrets(row.template, data);
          await db
            .updateTable("email_outbox")
            .set({
              status: "SENT",
              sent_at: sql<Date>`UTC_TIMESTAMP(6)`,
              message_id: info.messageId || messageId,
              attempts: sql<number>`attempts + 1`,
              data: JSON.stringify(kept),
              lease_until: null,
              last_error: "",
            })
            .where("id", "=", row.id)
            .where("lease_holder", "=", holder)
            .execute();
          mailsSent.inc({ outcome: "sent" });
        } catch (error) {
          const attempts = row.attempts + 1;
          // The SMTP error text, never the mail: it may carry the link.
          const reason = String((error as Error).message ?? error).slice(0, 1000);
          const dead = attempts >= config.maxAttempts;
          await db
            .updateTable("email_outbox")
            .set({
              status: dead ? "DEAD" : "PENDING",
              ...(dead ? { data: JSON.stringify(withoutSecrets(row.template, data)) } : {}),
              attempts,
              last_error: reason,
              next_attempt_at: sql<Date>`UTC_TIMESTAMP(6) + INTERVAL ${retryDelayMs(attempts, config) * 1000} MICROSECOND`,
              lease_until: null,
            })
            .where("id", "=", row.id)
            .where("lease_holder", "=", holder)
            .execute();
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
  return [{ name: "notification-mail-delivery", everyMs: deps.config.pollMs, run: () => sender.deliverDue() }];
}
