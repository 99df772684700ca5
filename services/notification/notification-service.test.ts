// NotificationService and AccountMailService in memory, over a database of their own: who may
// call what, that each caller sees only their own inbox (another user's ids are ignored or
// not found), pages, the watch stream and its resume token, and the preferences' rules.
import { create } from "@bufbuild/protobuf";
import { Code, type Client } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventSchema, type Event } from "../../gen/bazaar/events/v1/events_pb.ts";
import {
  AccountMailKind,
  AccountMailService,
  NotificationChannel,
  NotificationKind,
  NotificationService,
} from "../../gen/bazaar/notification/v1/notification_pb.ts";
import { errorInfoOf } from "../kit/error-info.ts";
import { applyOnce } from "../kit/consumer.ts";
import { uuidv7 } from "../kit/ids.ts";
import { bind } from "../kit/serve.ts";
import { accessMatrix, accessOutcome } from "../kit/testing/access.ts";
import { failureOf } from "../kit/testing/calls.ts";
import { migratedTestDatabase } from "../kit/testing/database.ts";
import { serveInMemory, type InMemoryServer } from "../kit/testing/in-memory.ts";
import { createTestTokens, oneOfEach, signedIn, type Callers, type TestTokens } from "../kit/testing/tokens.ts";
import { notificationAccessRules } from "./access-rules.ts";
import type { NotificationDatabase } from "./db/database.ts";
import { migrations } from "./db/migrations/index.ts";
import { FeedSignals } from "../kit/feed-signals.ts";
import { notifyOrderEvents } from "./events/order-events.ts";
import { createAccountMailService, createNotificationService } from "./notification-service.ts";

let db: Kysely<NotificationDatabase>;
let tokens: TestTokens;
let callers: Callers;
let server: InMemoryServer;
let inbox: Client<typeof NotificationService>;
const signals = new FeedSignals();

beforeAll(async () => {
  db = await migratedTestDatabase<NotificationDatabase>("notification_handlers", migrations);
  tokens = await createTestTokens();
  callers = await oneOfEach(tokens);
  server = serveInMemory({
    services: [
      bind(NotificationService, createNotificationService({ db, feed: { db, signals, pollMs: 200 } })),
      bind(AccountMailService, createAccountMailService({ db })),
    ],
    rules: notificationAccessRules,
    verifier: tokens.verifier,
  });
  inbox = server.client(NotificationService);
});

afterAll(async () => {
  await db?.destroy();
});

const handle = notifyOrderEvents(signals);
const apply = (event: Event) => applyOnce(db, "test-order-events", event, handle);

/** An OrderPlaced of `buyer` with one shop order of `seller`. */
function orderPlaced(buyer: string, seller: string): Event {
  return create(EventSchema, {
    id: uuidv7(),
    source: "order",
    payload: {
      case: "orderPlaced",
      value: {
        orderId: uuidv7(),
        userId: buyer,
        total: { currencyCode: "EUR", amountMinor: 1250n },
        shopOrders: [
          {
            shopOrderId: uuidv7(),
            shopId: uuidv7(),
            sellerId: seller,
            subtotal: { currencyCode: "EUR", amountMinor: 1250n },
          },
        ],
      },
    },
  });
}

describe("who may call the notification service", () => {
  it.each([
    ...accessMatrix(NotificationService, {
      listNotifications: "user",
      markNotificationsRead: "user",
      getUnreadCount: "user",
      watchNotifications: "user",
      getNotificationPreferences: "user",
      updateNotificationPreferences: "user",
    }),
    ...accessMatrix(AccountMailService, { sendAccountMail: "service" }),
  ])("%s", async (_story, method, caller, expected) => {
    expect(await accessOutcome(server.transport, method, callers[caller])).toBe(expected);
  });
});

describe("whose inbox a call sees", () => {
  it("when a buyer and a seller are notified of one order, then each lists only their own", async () => {
    const [buyer, seller, admin] = [
      await signedIn(tokens, "customer"),
      await signedIn(tokens, "seller"),
      await signedIn(tokens, "admin"),
    ];
    await apply(orderPlaced(buyer.id, seller.id));

    const mine = await inbox.listNotifications({}, buyer.options);
    expect(mine.notifications.map((n) => n.kind)).toEqual([NotificationKind.ORDER_CONFIRMED]);
    const theirs = await inbox.listNotifications({}, seller.options);
    expect(theirs.notifications.map((n) => n.kind)).toEqual([NotificationKind.SELLER_NEW_ORDER]);
    expect((await inbox.listNotifications({}, admin.options)).notifications).toEqual([]);
  });

  it("when a customer marks another user's notification read, then nothing changes for its owner", async () => {
    const [victim, attacker, seller] = [
      await signedIn(tokens, "customer"),
      await signedIn(tokens, "customer"),
      await signedIn(tokens, "seller"),
    ];
    await apply(orderPlaced(victim.id, seller.id));
    const [theirs] = (await inbox.listNotifications({}, victim.options)).notifications;

    const answer = await inbox.markNotificationsRead({ ids: [theirs!.id] }, attacker.options);
    expect(answer.markedCount).toBe(0);
    expect((await inbox.getUnreadCount({}, victim.options)).unreadCount).toBe(1);
    await inbox.markNotificationsRead({ all: true }, attacker.options);
    expect((await inbox.getUnreadCount({}, victim.options)).unreadCount).toBe(1);

    expect((await inbox.markNotificationsRead({ ids: [theirs!.id] }, victim.options)).markedCount).toBe(1);
    expect((await inbox.getUnreadCount({}, victim.options)).unreadCount).toBe(0);
    const [read] = (await inbox.listNotifications({}, victim.options)).notifications;
    expect(read?.readTime).toBeDefined();
  });

  it("when neither ids nor all are given, then MarkNotificationsRead is invalid_argument", async () => {
    const buyer = await signedIn(tokens, "customer");
    expect((await failureOf(inbox.markNotificationsRead({}, buyer.options))).code).toBe(Code.InvalidArgument);
  });
});

describe("pages and the unread filter", () => {
  it("when a buyer has five notifications, then pages of two return them newest first, once each", async () => {
    const [buyer, seller] = [await signedIn(tokens, "customer"), await signedIn(tokens, "seller")];
    for (let i = 0; i < 5; i++) await apply(orderPlaced(buyer.id, seller.id));
    const first = (await inbox.listNotifications({}, buyer.options)).notifications.map((n) => n.id);
    await inbox.markNotificationsRead({ ids: [first[0]!] }, buyer.options);

    const seen: string[] = [];
    let pageToken = "";
    do {
      const page = await inbox.listNotifications({ pageSize: 2, pageToken }, buyer.options);
      seen.push(...page.notifications.map((n) => n.id));
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(seen).toEqual(first);
    const unread = await inbox.listNotifications({ unreadOnly: true }, buyer.options);
    expect(unread.notifications.map((n) => n.id)).toEqual(first.slice(1));
  });
});

describe("the watch stream", () => {
  it("when a notification arrives while watching, then it is streamed within a second, and a resume token continues after it", async () => {
    const [seller, buyer] = [await signedIn(tokens, "seller"), await signedIn(tokens, "customer")];
    const abort = new AbortController();
    const stream = inbox.watchNotifications({}, { ...seller.options, signal: abort.signal });
    const iterator = stream[Symbol.asyncIterator]();
    const firstUpdate = iterator.next();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const placedAt = Date.now();
    await apply(orderPlaced(buyer.id, seller.id));
    const { value: update } = await firstUpdate;
    expect(Date.now() - placedAt).toBeLessThan(1_000);
    expect(update?.notification?.kind).toBe(NotificationKind.SELLER_NEW_ORDER);
    abort.abort();

    // Two more while away: resuming from the token streams exactly those.
    await apply(orderPlaced(buyer.id, seller.id));
    await apply(orderPlaced(buyer.id, seller.id));
    const resumed = new AbortController();
    const received: string[] = [];
    for await (const next of inbox.watchNotifications(
      { resumeToken: update!.resumeToken },
      { ...seller.options, signal: resumed.signal },
    )) {
      received.push(next.notification!.id);
      if (received.length === 2) break;
    }
    const listed = (await inbox.listNotifications({}, seller.options)).notifications.map((n) => n.id);
    expect(received).toEqual(listed.slice(0, 2).reverse());
  });

  it("when a seller watches from the resume token of their list, then the first notification is the one made after the list", async () => {
    const [seller, buyer] = [await signedIn(tokens, "seller"), await signedIn(tokens, "customer")];
    await apply(orderPlaced(buyer.id, seller.id));
    const listed = await inbox.listNotifications({}, seller.options);
    expect(listed.notifications).toHaveLength(1);
    await apply(orderPlaced(buyer.id, seller.id));
    for await (const next of inbox.watchNotifications({ resumeToken: listed.resumeToken }, seller.options)) {
      expect(next.notification!.id).not.toBe(listed.notifications[0]!.id);
      expect(next.notification!.kind).toBe(NotificationKind.SELLER_NEW_ORDER);
      break;
    }
  });

  it("when the resume token is not one of WatchNotifications, then the stream is invalid_argument", async () => {
    const buyer = await signedIn(tokens, "customer");
    const failure = await failureOf(
      (async () => {
        for await (const _ of inbox.watchNotifications({ resumeToken: "bm9wZQ" }, buyer.options)) break;
      })(),
    );
    expect(failure.code).toBe(Code.InvalidArgument);
  });
});

describe("preferences", () => {
  it("when a seller switches new-order notifications off in the app, then the next order is not in their inbox", async () => {
    const [seller, buyer] = [await signedIn(tokens, "seller"), await signedIn(tokens, "customer")];
    const answer = await inbox.updateNotificationPreferences(
      {
        preferences: [{ kind: NotificationKind.SELLER_NEW_ORDER, channel: NotificationChannel.IN_APP, enabled: false }],
      },
      seller.options,
    );
    const slot = answer.preferences.find(
      (p) => p.kind === NotificationKind.SELLER_NEW_ORDER && p.channel === NotificationChannel.IN_APP,
    );
    expect(slot?.enabled).toBe(false);
    await apply(orderPlaced(buyer.id, seller.id));
    expect((await inbox.listNotifications({}, seller.options)).notifications).toEqual([]);
    expect((await inbox.listNotifications({}, buyer.options)).notifications).toHaveLength(1);
  });

  it("when a buyer tries to switch off order-confirmation e-mails, then it is failed_precondition with a reason", async () => {
    const buyer = await signedIn(tokens, "customer");
    const failure = await failureOf(
      inbox.updateNotificationPreferences(
        {
          preferences: [{ kind: NotificationKind.ORDER_CONFIRMED, channel: NotificationChannel.EMAIL, enabled: false }],
        },
        buyer.options,
      ),
    );
    expect(failure.code).toBe(Code.FailedPrecondition);
    expect(errorInfoOf(failure)).toEqual({
      reason: "NOTIFICATION_PREFERENCE_REQUIRED",
      metadata: { kind: "NOTIFICATION_KIND_ORDER_CONFIRMED", channel: "NOTIFICATION_CHANNEL_EMAIL" },
    });
    const { preferences } = await inbox.getNotificationPreferences({}, buyer.options);
    const slot = preferences.find(
      (p) => p.kind === NotificationKind.ORDER_CONFIRMED && p.channel === NotificationChannel.EMAIL,
    );
    expect(slot).toMatchObject({ enabled: true, required: true });
  });

  it("when a kind has no in-app channel, then asking for it is invalid_argument", async () => {
    const buyer = await signedIn(tokens, "customer");
    const failure = await failureOf(
      inbox.updateNotificationPreferences(
        {
          preferences: [{ kind: NotificationKind.PASSWORD_RESET, channel: NotificationChannel.IN_APP, enabled: true }],
        },
        buyer.options,
      ),
    );
    expect(failure.code).toBe(Code.InvalidArgument);
  });
});

describe("account mails", () => {
  it("when auth asks for a password-reset mail without a link, then it is invalid_argument", async () => {
    const mails = server.client(AccountMailService);
    const failure = await failureOf(
      mails.sendAccountMail(
        { idempotencyKey: uuidv7(), email: "a@example.com", kind: AccountMailKind.PASSWORD_RESET },
        callers.service,
      ),
    );
    expect(failure.code).toBe(Code.InvalidArgument);
  });
});
