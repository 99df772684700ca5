// Delivery against a real SMTP server (tests/support/mailbox.ts) and a real MariaDB outbox.
import type { Kysely } from "kysely";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../kit/log.ts";
import { migratedTestDatabase } from "../../kit/testing/database.ts";
import { eventually } from "../../kit/testing/eventually.ts";
import { startMailbox, type Mailbox } from "../../../tests/support/mailbox.ts";
import * as emailOutbox from "../db/migrations/2026_12_04_170500_create_email_outbox.ts";
import type { MailConfig } from "./config.ts";
import type { EmailTables } from "./database.ts";
import { claimDueMails } from "../db/email-outbox.repository.ts";
import { createMailSender, deliverBacklog, retryDelayMs, type MailSender } from "./delivery.ts";
import { enqueueMail } from "./outbox.ts";

let db: Kysely<EmailTables>;
let mailbox: Mailbox;
const senders: MailSender[] = [];
const log = createLogger("notification-test", "silent");

const config = (smtpUrl: string): MailConfig => ({
  smtpUrl,
  from: "Bazaar <no-reply@bazaar.test>",
  publicUrl: "http://shop.test:8080",
  pollMs: 50,
  maxAttempts: 3,
  backoffMs: 200,
  maxBackoffMs: 1_000,
});

function sender(holder?: string, overrides: Partial<MailConfig> = {}): MailSender {
  const s = createMailSender({ db, log, config: { ...config(mailbox.smtpUrl), ...overrides } }, holder);
  senders.push(s);
  return s;
}

async function enqueue(
  key: string,
  to: string,
  data: object = { displayName: "Ada", link: "/orders/o-1", orderId: "o-1" },
) {
  return db
    .transaction()
    .execute((trx) => enqueueMail(trx, { idempotencyKey: key, to, template: "order-confirmation", data }));
}

const row = (key: string) =>
  db.selectFrom("email_outbox").selectAll().where("idempotency_key", "=", key).executeTakeFirstOrThrow();
const mailsTo = async (to: string) =>
  (await mailbox.messages()).filter((m) => m.to && JSON.stringify(m.to).includes(to));

/** Runs a delivery loop every 50 ms until stopped, as the periodic job does. */
function loop(s: MailSender) {
  let stopped = false;
  const done = (async () => {
    while (!stopped) {
      await s.deliverDue();
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return async () => {
    stopped = true;
    await done;
  };
}

beforeAll(async () => {
  db = await migratedTestDatabase<EmailTables>("notification_email", {
    "2026_12_04_170500_create_email_outbox": emailOutbox,
  });
  mailbox = await startMailbox({ reject: (address) => address.startsWith("nobody@") });
});
afterEach(() => {
  for (const s of senders.splice(0)) s.close();
});
afterAll(async () => {
  await mailbox?.stop();
  await db?.destroy();
});

describe("enqueueMail", () => {
  it("keeps one mail per idempotency key", async () => {
    expect(await enqueue("k-once", "once@example.test")).toBe(true);
    expect(await enqueue("k-once", "once@example.test")).toBe(false);
    expect(
      await db.selectFrom("email_outbox").select("id").where("idempotency_key", "=", "k-once").execute(),
    ).toHaveLength(1);
  });

  it("writes nothing when the caller's transaction rolls back", async () => {
    await expect(
      db.transaction().execute(async (trx) => {
        await enqueueMail(trx, {
          idempotencyKey: "k-rollback",
          to: "x@example.test",
          template: "order-shipped",
          data: {},
        });
        throw new Error("caller failed");
      }),
    ).rejects.toThrow("caller failed");
    expect(
      await db.selectFrom("email_outbox").select("id").where("idempotency_key", "=", "k-rollback").execute(),
    ).toHaveLength(0);
  });
});

describe("delivery", () => {
  it("sends a mail once, with the outbox id as Message-ID and an absolute link", async () => {
    await enqueue("k-sent", "sent@example.test");
    const s = sender();
    expect(await s.deliverDue()).toBeGreaterThanOrEqual(1);
    expect(await s.deliverDue()).toBe(0);
    const sent = await row("k-sent");
    expect(sent.status).toBe("SENT");
    expect(sent.attempts).toBe(1);
    expect(sent.message_id).toBe(`<${sent.id}@shop.test>`);
    const mails = await mailsTo("sent@example.test");
    expect(mails).toHaveLength(1);
    expect(mails[0]?.messageId).toBe(`<${sent.id}@shop.test>`);
    expect(mails[0]?.subject).toContain("is confirmed");
    expect(mails[0]?.text).toContain("http://shop.test:8080/orders/o-1");
    expect(mails[0]?.html).toContain('href="http://shop.test:8080/orders/o-1"');
  });

  it("blanks an account mail's link once given up", async () => {
    await db.transaction().execute((trx) =>
      enqueueMail(trx, {
        idempotencyKey: "account:verify-dead",
        to: "nobody@verify.test",
        template: "email-verification",
        data: { link: "http://shop.test:8080/verify?token=dead-secret-456" },
      }),
    );
    const stop = loop(sender(undefined, { maxAttempts: 1 }));
    try {
      await eventually(
        () => row("account:verify-dead"),
        (r) => r.status === "DEAD",
        10_000,
      );
    } finally {
      await stop();
    }
    const dead = await row("account:verify-dead");
    expect(dead.status).toBe("DEAD");
    expect(JSON.stringify(dead.data)).not.toContain("dead-secret-456");
    expect(dead.last_error).not.toContain("dead-secret-456");
  });

  it("blanks an account mail's link once sent", async () => {
    const link = "http://shop.test:8080/reset?token=secret-token-123";
    await db.transaction().execute((trx) =>
      enqueueMail(trx, {
        idempotencyKey: "account:reset-1",
        to: "reset@example.test",
        template: "password-reset",
        data: { displayName: "Ada", link, expireTime: "2026-12-04T18:00:00.000Z" },
      }),
    );
    await sender().deliverDue();
    const mail = await mailbox.waitFor((m) => JSON.stringify(m.to).includes("reset@example.test"));
    expect(mail.text).toContain(link);
    const sent = await row("account:reset-1");
    expect(sent.status).toBe("SENT");
    expect(JSON.stringify(sent.data)).not.toContain("secret-token-123");
  });

  it("when more mails are due than one batch, then one tick sends them all over one SMTP connection", async () => {
    const to = "backlog@example.test";
    for (let i = 0; i < 45; i++) await enqueue(`backlog-${i}`, to);
    const connectionsBefore = mailbox.connections();
    await deliverBacklog(sender());
    expect(await mailsTo(to)).toHaveLength(45);
    expect(mailbox.connections() - connectionsBefore).toBe(1);
  });

  it("retries with backoff while the SMTP server is down and delivers once after it returns", async () => {
    await mailbox.stop();
    await enqueue("k-retry", "retry@example.test");
    const stop = loop(sender(undefined, { maxAttempts: 30 }));
    try {
      // Down for 10 s. The loop polls every 50 ms, but the delay doubles from 200 ms (capped at
      // 1 s here): 200+400+800 ms, then one attempt a second, so about 11 attempts, not 200.
      await new Promise((r) => setTimeout(r, 10_000));
      const failing = await row("k-retry");
      expect(failing.status).toBe("PENDING");
      expect(failing.attempts).toBeGreaterThanOrEqual(8);
      expect(failing.attempts).toBeLessThanOrEqual(13);
      expect(failing.last_error).toMatch(/ECONNREFUSED|connect/i);
    } finally {
      await mailbox.restart();
    }
    try {
      const sent = await eventually(
        () => row("k-retry"),
        (r) => r.status === "SENT",
        10_000,
      );
      expect(sent.status).toBe("SENT");
    } finally {
      await stop();
    }
    expect(await mailsTo("retry@example.test")).toHaveLength(1);
  }, 40_000);

  it("gives a permanently rejected address up as DEAD after the attempt limit", async () => {
    await enqueue("k-dead", "nobody@example.test");
    const stop = loop(sender());
    try {
      await eventually(
        () => row("k-dead"),
        (r) => r.status === "DEAD",
        10_000,
      );
    } finally {
      await stop();
    }
    const dead = await row("k-dead");
    expect(dead.attempts).toBe(3);
    expect(dead.last_error).toContain("550");
    expect(dead.data).toMatchObject({ orderId: "o-1" });
    expect(await mailsTo("nobody@example.test")).toHaveLength(0);
  });

  it("when a mail cannot be rendered, then it is retried and given up alone, and the mails behind it go out", async () => {
    // Malformed data, as an event with a money field of no currency once gave: it must not hold
    // the batch (it used to throw out of the loop, and every tick claimed the same batch again).
    await db.transaction().execute((trx) =>
      enqueueMail(trx, {
        idempotencyKey: "k-poison",
        to: "poison@example.test",
        template: "nonsense" as never,
        data: {},
      }),
    );
    await enqueue("k-behind", "behind@example.test");
    const stop = loop(sender());
    try {
      await eventually(
        () => row("k-poison"),
        (r) => r.status === "DEAD",
        10_000,
      );
    } finally {
      await stop();
    }
    expect((await row("k-behind")).status).toBe("SENT");
    expect(await mailsTo("behind@example.test")).toHaveLength(1);
    expect(await mailsTo("poison@example.test")).toHaveLength(0);
  });

  it("when a claim's rows are still leased, then the next claim of the same loop returns only its own", async () => {
    for (let i = 0; i < 3; i++) await enqueue(`k-claims-${i}`, `claims-${i}@example.test`);
    const first = await claimDueMails(db, "loop-a:1", 60_000, 2);
    const second = await claimDueMails(db, "loop-a:2", 60_000, 2);
    expect(first.map((r) => r.idempotency_key).filter((k) => k.startsWith("k-claims-"))).toHaveLength(2);
    expect(second.map((r) => r.lease_holder)).toEqual(second.map(() => "loop-a:2"));
    expect(new Set([...first, ...second].map((r) => r.id)).size).toBe(first.length + second.length);
  });

  it("never sends one row twice from two delivery loops", async () => {
    const keys = Array.from({ length: 30 }, (_, i) => `k-race-${i}`);
    for (const key of keys) await enqueue(key, `${key}@race.test`);
    const stops = [loop(sender("replica-a")), loop(sender("replica-b"))];
    try {
      const left = await eventually(
        () =>
          db
            .selectFrom("email_outbox")
            .select("id")
            .where("idempotency_key", "like", "k-race-%")
            .where("status", "!=", "SENT")
            .execute(),
        (rows) => rows.length === 0,
        20_000,
      );
      expect(left).toHaveLength(0);
    } finally {
      await Promise.all(stops.map((stop) => stop()));
    }
    const raced = (await mailbox.messages()).filter((m) => JSON.stringify(m.to).includes("@race.test"));
    expect(raced).toHaveLength(keys.length);
    expect(new Set(raced.map((m) => m.messageId)).size).toBe(keys.length);
  }, 30_000);
});

describe("retryDelayMs", () => {
  it("doubles from the first delay and stops at the cap", () => {
    const c = { backoffMs: 1000, maxBackoffMs: 60_000 };
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((a) => retryDelayMs(a, c))).toEqual([
      1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000,
    ]);
  });
});
