// The invariants a mesh must keep whatever failed while it ran, read straight from the services'
// databases and the event stream: used by the scale-out test and the chaos run. Each check
// returns the violations it found (empty: it holds), so a report can list them all.
//
//   I1 stock adds up per product: what left on hand is what live shop orders bought (a shop order
//      its seller cancelled gave its units back), nothing held
//   I2 no order is left PENDING, no cancelled shop order's settlement outstanding; what failed
//      released its hold
//   I3 every outbox event was published once and applied once by every durable consumer that wants it
//   I4 every order a client was told about exists
//   I5 every order is split into one shop order per shop of its lines, each shop order's subtotal
//      the exact sum of its shop's lines, the order's status the one its shop orders give
//   I6 a cancelled shop order's units: the stock its cancellation returned is its lines' units,
//      product by product (fewer only when the whole reservation had gone back first)
//   I7 refunds never exceed what was paid per order, and a REFUNDED payment was refunded in full
//   I8 payments match orders (issue M11's "I5"): every captured payment belongs to a live order
//      or was refunded in full, and the payment service refunded exactly what the order recorded;
//      every live card order has a payment captured for its total; no authorization is left
//      held or waiting once the mesh settled
//   I9 every event that calls for a mail produced exactly one delivered mail (mailsDeliveredOnce)
//   I10 every picture whose upload was confirmed ends READY with exactly its six renditions in
//      the bucket under images/<id>/ and nothing else there, and its original (uploads/<upload
//      id>) has left the bucket (picturesProcessed)
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { Event } from "../../gen/bazaar/events/v1/events_pb.ts";
import { createConnection } from "mysql2/promise";
import { serviceNames } from "../../deploy/local/mesh.ts";
import { streamName } from "../../services/kit/events.ts";
import { natsConnectOptions } from "../../services/kit/nats.ts";
import { formatMoney } from "../../services/notification/email/templates.ts";
import { paymentOutcomesConsumer } from "../../services/order/events/payment-outcomes.ts";
import { renditionSizes } from "../../services/product/media/images.ts";
import { readStream } from "./event-stream.ts";

export interface MeshStores {
  mysqlUrl: string;
  natsUrl: string;
  /** Each service's database name. */
  databases: Record<string, string>;
}

export async function query<T>(mysqlUrl: string, database: string, text: string, values: unknown[] = []): Promise<T[]> {
  const connection = await createConnection({ uri: mysqlUrl, database });
  try {
    return (await connection.query(text, values))[0] as T[];
  } finally {
    await connection.end();
  }
}

/** I1 for the given products and their stock on hand before the run. */
export async function stockAddsUp(stores: MeshStores, initialOnHand: Map<string, number>): Promise<string[]> {
  const ids = [...initialOnHand.keys()];
  if (ids.length === 0) return [];
  const stock = await query<{ id: string; on_hand: number; held: number }>(
    stores.mysqlUrl,
    stores.databases.product!,
    "SELECT id, stock_on_hand AS on_hand, stock_held AS held FROM products WHERE id IN (?)",
    [ids],
  );
  const sold = await query<{ product_id: string; sold: string }>(
    stores.mysqlUrl,
    stores.databases.order!,
    `SELECT l.product_id, SUM(l.quantity) AS sold
     FROM order_lines l JOIN shop_orders s ON s.order_id = l.order_id AND s.shop_id = l.shop_id
     WHERE s.status IN ('CONFIRMED', 'PROCESSING', 'SHIPPED', 'DELIVERED') AND l.product_id IN (?) GROUP BY l.product_id`,
    [ids],
  );
  const soldOf = new Map(sold.map((row) => [row.product_id, Number(row.sold)]));
  return stock.flatMap((row) => {
    const expectedOnHand = initialOnHand.get(row.id)! - (soldOf.get(row.id) ?? 0);
    const problems: string[] = [];
    if (row.on_hand !== expectedOnHand)
      problems.push(`I1 product ${row.id}: on hand ${row.on_hand}, expected ${expectedOnHand} (initial − sold)`);
    if (row.held !== 0) problems.push(`I1 product ${row.id}: ${row.held} units still held`);
    return problems;
  });
}

/** I2: nothing PENDING, no reservation still holding stock. */
export async function ordersSettled(stores: MeshStores): Promise<string[]> {
  const pending = await query<{ id: string }>(
    stores.mysqlUrl,
    stores.databases.order!,
    "SELECT id FROM orders WHERE status = 'PENDING'",
  );
  const holding = await query<{ id: string }>(
    stores.mysqlUrl,
    stores.databases.product!,
    "SELECT id FROM reservations WHERE status = 'HELD'",
  );
  const unsettled = await query<{ id: string }>(
    stores.mysqlUrl,
    stores.databases.order!,
    "SELECT id FROM shop_orders WHERE settle_after IS NOT NULL",
  );
  return [
    ...pending.map((row) => `I2 order ${row.id} is still PENDING`),
    ...unsettled.map((row) => `I2 cancelled shop order ${row.id} has its stock or refund outstanding`),
    ...holding.map((row) => `I2 reservation ${row.id} still holds stock`),
  ];
}

/**
 * I3: every outbox row published, the stream holding exactly as many events as all outboxes
 * (none published twice), every durable consumer's processed count equal to the events of its
 * subjects it wants (processed ids are unique, so equal counts mean none missed), no dead letters.
 */
export async function eventsDeliveredOnce(stores: MeshStores): Promise<string[]> {
  const problems: string[] = [];
  let outboxRows = 0;
  for (const service of serviceNames) {
    const [row] = await query<{ unpublished: number; events: number; dead: number }>(
      stores.mysqlUrl,
      stores.databases[service]!,
      `SELECT COUNT(*) - COUNT(publish_time) AS unpublished, COUNT(*) AS events,
              (SELECT COUNT(*) FROM dead_letters WHERE redrive_time IS NULL) AS dead FROM outbox`,
    );
    if (Number(row!.unpublished) > 0) problems.push(`I3 ${service}: ${row!.unpublished} outbox events unpublished`);
    if (Number(row!.dead) > 0) problems.push(`I3 ${service}: ${row!.dead} dead letters`);
    outboxRows += Number(row!.events);
  }
  const nc = await connect(natsConnectOptions(stores.natsUrl));
  try {
    const jsm = await jetstreamManager(nc);
    const stream = await jsm.streams.info(streamName);
    if (stream.state.messages !== outboxRows) {
      problems.push(`I3 the stream holds ${stream.state.messages} events, the outboxes ${outboxRows}`);
    }
    for await (const consumer of jsm.consumers.list(streamName)) {
      // Ephemeral consumers (a service following deactivations) apply nothing to a database.
      if (!consumer.config.durable_name) continue;
      const filter = consumer.config.filter_subject!;
      const wants = consumerWants.get(consumer.name);
      // A consumer that says which events it wants records only those (the rest are acked unapplied).
      const inStream = wants
        ? await wantedEventsOn(nc, filter, wants)
        : Object.values((await jsm.streams.info(streamName, { subjects_filter: filter })).state.subjects ?? {}).reduce(
            (sum, n) => sum + n,
            0,
          );
      const service = consumer.name.split("-")[0]!;
      const [row] = await query<{ n: number }>(
        stores.mysqlUrl,
        stores.databases[service]!,
        "SELECT COUNT(*) AS n FROM processed_events WHERE consumer = ?",
        [consumer.name],
      );
      if (Number(row!.n) !== inStream)
        problems.push(`I3 ${consumer.name} applied ${row!.n} of the ${inStream} events on ${filter}`);
    }
  } finally {
    await nc.close();
  }
  return problems;
}

/** The consumers that choose their events (ConsumerOptions.wants), by name. */
const consumerWants = new Map<string, (event: Event) => boolean>([
  [paymentOutcomesConsumer.name, paymentOutcomesConsumer.wants],
]);

/** How many of the stream's events on `filter` `wants` takes. */
async function wantedEventsOn(nc: NatsConnection, filter: string, wants: (event: Event) => boolean): Promise<number> {
  let wanted = 0;
  await readStream(nc, filter, (event) => {
    if (wants(event)) wanted += 1;
  });
  return wanted;
}

/** I4: every order id a client received exists. */
export async function acknowledgedOrdersExist(stores: MeshStores, orderIds: string[]): Promise<string[]> {
  if (orderIds.length === 0) return [];
  const found = await query<{ id: string }>(
    stores.mysqlUrl,
    stores.databases.order!,
    "SELECT id FROM orders WHERE id IN (?)",
    [orderIds],
  );
  const existing = new Set(found.map((row) => row.id));
  return orderIds
    .filter((id) => !existing.has(id))
    .map((id) => `I4 order ${id} was acknowledged to a client but does not exist`);
}

/** I5: shop orders cover every order's lines exactly, and the order's status is the one its shop orders give. */
export async function shopOrdersAddUp(stores: MeshStores): Promise<string[]> {
  const mismatched = await query<{ order_id: string; shop_id: string; problem: string }>(
    stores.mysqlUrl,
    stores.databases.order!,
    `SELECT l.order_id, l.shop_id,
       CASE WHEN s.id IS NULL THEN 'has no shop order'
            ELSE CONCAT('subtotal ', s.subtotal_minor, ' but lines ', l.lines_total) END AS problem
     FROM (SELECT order_id, shop_id, SUM(line_total_minor) AS lines_total FROM order_lines GROUP BY order_id, shop_id) l
     LEFT JOIN shop_orders s ON s.order_id = l.order_id AND s.shop_id = l.shop_id
     WHERE s.id IS NULL OR s.subtotal_minor <> l.lines_total`,
  );
  // The rule on Order.status (orderStatusFromShopOrders), cancelled shop orders left aside; a
  // failed payment counts as cancelled.
  const outOfStep = await query<{ order_id: string; status: string; statuses: string }>(
    stores.mysqlUrl,
    stores.databases.order!,
    `SELECT o.id AS order_id, o.status, GROUP_CONCAT(s.status ORDER BY s.shop_id) AS statuses
     FROM orders o JOIN shop_orders s ON s.order_id = o.id
     GROUP BY o.id, o.status
     HAVING CASE
         WHEN SUM(s.status <> 'CANCELLED') = 0 THEN 'CANCELLED'
         WHEN SUM(s.status = 'PENDING') > 0 THEN 'PENDING'
         WHEN SUM(s.status = 'DELIVERED') = SUM(s.status <> 'CANCELLED') THEN 'DELIVERED'
         WHEN SUM(s.status IN ('SHIPPED', 'DELIVERED')) = SUM(s.status <> 'CANCELLED') THEN 'SHIPPED'
         WHEN SUM(s.status IN ('PROCESSING', 'SHIPPED', 'DELIVERED')) > 0 THEN 'PROCESSING'
         ELSE 'CONFIRMED'
       END <> CASE o.status WHEN 'PAYMENT_FAILED' THEN 'CANCELLED' ELSE o.status END`,
  );
  const strays = await query<{ id: string }>(
    stores.mysqlUrl,
    stores.databases.order!,
    `SELECT s.id FROM shop_orders s
     WHERE NOT EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = s.order_id AND l.shop_id = s.shop_id)`,
  );
  return [
    ...mismatched.map((row) => `I5 order ${row.order_id}, shop ${row.shop_id}: ${row.problem}`),
    ...strays.map((row) => `I5 shop order ${row.id} has no lines`),
    ...outOfStep.map((row) => `I5 order ${row.order_id} is ${row.status} but its shop orders are ${row.statuses}`),
  ];
}

/**
 * I6: every partial stock return (product database, return id = shop order id) gave back exactly
 * its cancelled shop order's lines' units, product by product, or — only when the whole
 * reservation had been returned — fewer; and every shop order refunded on its own (a seller's
 * cancellation) has such a return.
 */
export async function cancelledShopOrderUnitsAddUp(stores: MeshStores): Promise<string[]> {
  const returns = await query<{
    reservation_id: string;
    return_id: string;
    product_id: string;
    quantity: number;
    status: string;
  }>(
    stores.mysqlUrl,
    stores.databases.product!,
    `SELECT r.reservation_id, r.return_id, r.product_id, r.quantity, v.status
     FROM reservation_returns r JOIN reservations v ON v.id = r.reservation_id`,
  );
  const lines = await query<{ shop_order_id: string; status: string; product_id: string; quantity: number }>(
    stores.mysqlUrl,
    stores.databases.order!,
    `SELECT s.id AS shop_order_id, s.status, l.product_id, l.quantity
     FROM shop_orders s JOIN order_lines l ON l.order_id = s.order_id AND l.shop_id = s.shop_id
     WHERE s.id IN (SELECT shop_order_id FROM order_refunds WHERE shop_order_id IS NOT NULL)
        OR s.id IN (?)`,
    [[...new Set(returns.map((r) => r.return_id)), ""]],
  );
  const problems: string[] = [];
  const returned = new Map(returns.map((r) => [`${r.return_id}/${r.product_id}`, r]));
  for (const line of lines) {
    const back = returned.get(`${line.shop_order_id}/${line.product_id}`);
    if (line.status !== "CANCELLED")
      problems.push(`I6 shop order ${line.shop_order_id} returned stock but is ${line.status}`);
    else if (!back)
      problems.push(`I6 cancelled shop order ${line.shop_order_id}: product ${line.product_id} never returned`);
    else if (back.quantity > line.quantity || (back.quantity < line.quantity && back.status === "COMMITTED"))
      problems.push(
        `I6 cancelled shop order ${line.shop_order_id}: ${back.quantity} units of ${line.product_id} returned, its lines hold ${line.quantity}`,
      );
  }
  const known = new Set(lines.map((line) => `${line.shop_order_id}/${line.product_id}`));
  for (const r of returns) {
    if (!known.has(`${r.return_id}/${r.product_id}`))
      problems.push(`I6 return ${r.return_id} gave back product ${r.product_id}, not a line of that shop order`);
  }
  return problems;
}

/** I7: per order, refunds add up to no more than was paid, and to all of it once the payment is REFUNDED. */
export async function refundsWithinPayments(stores: MeshStores): Promise<string[]> {
  const rows = await query<{ id: string; paid: string; refunded: string; payment_status: string }>(
    stores.mysqlUrl,
    stores.databases.order!,
    `SELECT o.id, o.payment_status,
       CAST(IF(o.payment_method = 'CARD' AND o.payment_status IN ('CAPTURED', 'REFUNDED'), o.total_minor, 0) AS CHAR) AS paid,
       CAST(SUM(r.amount_minor) AS CHAR) AS refunded
     FROM orders o JOIN order_refunds r ON r.order_id = o.id
     GROUP BY o.id, o.payment_method, o.payment_status, o.total_minor`,
  );
  const full = await query<{ id: string }>(
    stores.mysqlUrl,
    stores.databases.order!,
    `SELECT o.id FROM orders o WHERE o.payment_status = 'REFUNDED'
       AND o.total_minor <> (SELECT COALESCE(SUM(r.amount_minor), 0) FROM order_refunds r WHERE r.order_id = o.id)`,
  );
  return [
    ...rows
      .filter((row) => BigInt(row.refunded) > BigInt(row.paid))
      .map((row) => `I7 order ${row.id}: ${row.refunded} refunded, ${row.paid} paid (${row.payment_status})`),
    ...full.map((row) => `I7 order ${row.id} is REFUNDED but its refunds do not add up to its total`),
  ];
}

/** I8: the payment service's payments and the order service's card orders tell the same story. */
export async function paymentsMatchOrders(stores: MeshStores): Promise<string[]> {
  const payments = await query<{
    id: string;
    order_id: string;
    status: string;
    amount: string;
    captured: string;
    refunded: string;
  }>(
    stores.mysqlUrl,
    stores.databases.payment!,
    `SELECT id, order_id, status, CAST(amount_minor AS CHAR) AS amount, CAST(captured_minor AS CHAR) AS captured,
       CAST(refunded_minor AS CHAR) AS refunded FROM payments`,
  );
  const orders = await query<{ id: string; status: string; total: string; refunded: string }>(
    stores.mysqlUrl,
    stores.databases.order!,
    `SELECT o.id, o.status, CAST(o.total_minor AS CHAR) AS total,
       CAST((SELECT COALESCE(SUM(r.amount_minor), 0) FROM order_refunds r WHERE r.order_id = o.id) AS CHAR) AS refunded
     FROM orders o WHERE o.payment_method = 'CARD'`,
  );
  const orderById = new Map(orders.map((order) => [order.id, order]));
  const paymentByOrder = new Map(payments.map((payment) => [payment.order_id, payment]));
  const live = new Set(["CONFIRMED", "PROCESSING", "SHIPPED", "DELIVERED"]);
  const problems: string[] = [];
  for (const payment of payments) {
    const order = orderById.get(payment.order_id);
    if (!order) continue; // a payment made outside checkout (admin and payment tests)
    const captured = BigInt(payment.captured);
    if (["AUTHORIZED", "REQUIRES_ACTION", "PROCESSING"].includes(payment.status)) {
      problems.push(`I8 payment ${payment.id} of order ${order.id} (${order.status}) is still ${payment.status}`);
    }
    if (captured > 0n && !live.has(order.status) && BigInt(payment.refunded) !== captured) {
      problems.push(
        `I8 payment ${payment.id} captured ${captured} for ${order.status} order ${order.id} but refunded ${payment.refunded}`,
      );
    }
    if (BigInt(payment.refunded) !== BigInt(order.refunded)) {
      problems.push(
        `I8 payment ${payment.id} refunded ${payment.refunded}, its order ${order.id} recorded ${order.refunded}`,
      );
    }
  }
  for (const order of orders) {
    if (!live.has(order.status)) continue;
    const payment = paymentByOrder.get(order.id);
    if (!payment || BigInt(payment.captured) !== BigInt(order.total)) {
      problems.push(`I8 ${order.status} card order ${order.id} has no payment captured for its total ${order.total}`);
    }
  }
  return problems;
}

/** Every check at once. */
export async function checkInvariants(
  stores: MeshStores,
  initialOnHand: Map<string, number>,
  acknowledged: string[],
): Promise<string[]> {
  return [
    ...(await stockAddsUp(stores, initialOnHand)),
    ...(await ordersSettled(stores)),
    ...(await eventsDeliveredOnce(stores)),
    ...(await acknowledgedOrdersExist(stores, acknowledged)),
    ...(await shopOrdersAddUp(stores)),
    ...(await cancelledShopOrderUnitsAddUp(stores)),
    ...(await refundsWithinPayments(stores)),
    ...(await paymentsMatchOrders(stores)),
  ];
}

/** A mail as the test SMTP server received it (tests/support/mailbox.ts parses it). */
export interface DeliveredMail {
  messageId: string;
  to: string[];
  subject: string;
  text: string;
}

export interface MailCount {
  /** Mails the services' state calls for. */
  expected: number;
  /** Distinct mails (by Message-ID) the SMTP server accepted. */
  delivered: number;
  /** Extra copies of a mail already delivered, under the same Message-ID. */
  resent: number;
}

/**
 * I9: every event that calls for a mail produced exactly one delivered mail. What is called for
 * comes from the state the events were written with, not from the notification service: each
 * order that reached CONFIRMED (its buyer's confirmation, and a new-order mail per shop order to
 * its seller), each order whose payment failed, each shop order that was SHIPPED, each refund the
 * payment service made — to the address auth holds for the user. (Preferences are left aside:
 * the chaos workload never switches a kind off.) Each delivered mail is matched by what it says —
 * its kind from the subject, the full order, shop order id and refunded amount from its text —
 * and its recipient. A mail counts once per Message-ID: delivery is at-least-once across a crash
 * between the server's acceptance and the SENT mark (services/notification/email/delivery.ts),
 * and a resend keeps the outbox id as Message-ID, so a receiver drops it. `resendsAllowed` bounds
 * those copies (one per SIGKILL of the notification service); two Message-IDs for one event, a
 * missing mail, or a mail nothing called for are violations.
 */
export async function mailsDeliveredOnce(
  stores: MeshStores,
  mails: DeliveredMail[],
  resendsAllowed: number,
): Promise<{ problems: string[]; count: MailCount }> {
  const { mysqlUrl, databases } = stores;
  const users = await query<{ id: string; email: string }>(mysqlUrl, databases.auth!, "SELECT id, email FROM users");
  const emailOf = new Map(users.map((u) => [u.id, u.email.toLowerCase()]));
  const expected = new Map<string, number>();
  const expect = (key: string) => expected.set(key, (expected.get(key) ?? 0) + 1);
  /** Orders that were `status` at some point, whatever they are now. */
  const ordersThatWere = (status: "CONFIRMED" | "PAYMENT_FAILED") =>
    query<{ id: string; user_id: string }>(
      mysqlUrl,
      databases.order!,
      `SELECT o.id, o.user_id FROM orders o
       WHERE EXISTS (SELECT 1 FROM order_status_history h WHERE h.order_id = o.id AND h.status = ?)`,
      [status],
    );
  for (const o of await ordersThatWere("CONFIRMED")) expect(`order-confirmation ${o.id} to ${emailOf.get(o.user_id)}`);
  const sellers = await query<{ id: string; seller_id: string }>(
    mysqlUrl,
    databases.order!,
    `SELECT s.id, s.seller_id FROM shop_orders s
     WHERE EXISTS (SELECT 1 FROM order_status_history h WHERE h.order_id = s.order_id AND h.status = 'CONFIRMED')`,
  );
  for (const s of sellers) expect(`seller-new-order ${s.id} to ${emailOf.get(s.seller_id)}`);
  for (const o of await ordersThatWere("PAYMENT_FAILED")) expect(`payment-failed ${o.id} to ${emailOf.get(o.user_id)}`);
  const shipped = await query<{ order_id: string; user_id: string }>(
    mysqlUrl,
    databases.order!,
    `SELECT s.order_id, o.user_id FROM shop_orders s JOIN orders o ON o.id = s.order_id
     WHERE EXISTS (SELECT 1 FROM shop_order_status_history h WHERE h.shop_order_id = s.id AND h.status = 'SHIPPED')`,
  );
  for (const s of shipped) expect(`order-shipped ${s.order_id} to ${emailOf.get(s.user_id)}`);
  const refunds = await query<{ order_id: string; currency_code: string; amount: string }>(
    mysqlUrl,
    databases.payment!,
    `SELECT p.order_id, p.currency_code, CAST(r.amount_minor AS CHAR) AS amount
     FROM payment_refunds r JOIN payments p ON p.id = r.payment_id`,
  );
  const orderIds = [...new Set(refunds.map((r) => r.order_id)), ""];
  const buyers = await query<{ id: string; user_id: string }>(
    mysqlUrl,
    databases.order!,
    "SELECT id, user_id FROM orders WHERE id IN (?)",
    [orderIds],
  );
  const buyerOf = new Map(buyers.map((o) => [o.id, o.user_id]));
  for (const r of refunds) {
    const buyer = buyerOf.get(r.order_id);
    if (!buyer) continue; // a payment made outside checkout (admin and payment tests): nobody to tell
    const amount = formatMoney({ currencyCode: r.currency_code, amountMinor: r.amount });
    expect(`refund-issued ${r.order_id} ${amount} to ${emailOf.get(buyer)}`);
  }

  const copies = new Map<string, DeliveredMail[]>();
  for (const mail of mails) copies.set(mail.messageId, [...(copies.get(mail.messageId) ?? []), mail]);
  const delivered = new Map<string, string[]>();
  const problems: string[] = [];
  for (const [messageId, [mail]] of copies) {
    const key = mailKey(mail!);
    if (!key) {
      problems.push(`I9 mail ${messageId} "${mail!.subject}" is none of the mails an event calls for`);
      continue;
    }
    delivered.set(key, [...(delivered.get(key) ?? []), messageId]);
  }
  for (const [key, n] of expected) {
    const got = delivered.get(key) ?? [];
    if (got.length < n) problems.push(`I9 ${key}: ${n - got.length} of ${n} mails never delivered`);
    if (got.length > n) problems.push(`I9 ${key}: ${got.length} mails (Message-IDs ${got.join(", ")}), expected ${n}`);
  }
  for (const [key, got] of delivered) {
    if (!expected.has(key)) problems.push(`I9 ${key}: delivered (${got.join(", ")}) but nothing called for it`);
  }
  const resent = mails.length - copies.size;
  if (resent > resendsAllowed)
    problems.push(`I9 ${resent} mails delivered again under their Message-ID, at most ${resendsAllowed} expected`);
  return {
    problems,
    count: { expected: [...expected.values()].reduce((sum, n) => sum + n, 0), delivered: copies.size, resent },
  };
}

/** What a mail is about, as I9 expects it: kind, the ids (and amount) its text names, recipient. */
function mailKey(mail: DeliveredMail): string | undefined {
  const to = mail.to.map((a) => a.toLowerCase()).join(",");
  const kinds: Array<[RegExp, RegExp, string]> = [
    [/^Your Bazaar order #\S+ is confirmed$/, /Thank you for your order (\S+)\./, "order-confirmation"],
    [/^New order #\S+ for your shop$/, /Your shop received the order (\S+)\./, "seller-new-order"],
    [/^Payment for your Bazaar order #\S+ failed$/, /payment for your order (\S+)\./, "payment-failed"],
    [/^Your Bazaar order #\S+ has shipped$/, /Part of your order (\S+) is on its way/, "order-shipped"],
    [/^Refund of .+ for your Bazaar order #\S+$/, /We refunded (.+ of your order \S+) to the card/, "refund-issued"],
  ];
  for (const [subject, text, kind] of kinds) {
    const named = subject.test(mail.subject) ? text.exec(mail.text)?.[1] : undefined;
    if (named) return `${kind} ${named.replace(/^(.+) of your order (\S+)$/, "$2 $1")} to ${to}`;
  }
  return undefined;
}

/** The bucket the product service keeps pictures in (deploy/local/object-store.ts). */
export interface PictureBucket {
  endpoint: string;
  bucket: string;
}

/**
 * I10, from the product database and a listing of the bucket: every upload CONFIRMED, and every
 * image a client was told about (`confirmedImageIds`), is an image that is READY, records the six
 * renditions (thumbnail, card, full; each WebP and JPEG, or PNG for a PNG), and has exactly
 * those six keys under images/<id>/; no uploads/<upload id> object is left once it is processed
 * (the cleanup job deletes it). Needs the cleanup job to run often (BAZAAR_MEDIA_CLEANUP_MS).
 */
export async function picturesProcessed(
  stores: MeshStores,
  store: PictureBucket,
  confirmedImageIds: string[],
): Promise<string[]> {
  const images = await query<{
    upload_id: string;
    id: string | null;
    status: string | null;
    content_type: string | null;
    renditions: unknown;
  }>(
    stores.mysqlUrl,
    stores.databases.product!,
    `SELECT u.id AS upload_id, i.id, i.status, i.content_type, i.renditions
     FROM media_uploads u LEFT JOIN images i ON i.id = u.image_id WHERE u.status = 'CONFIRMED'`,
  );
  const keys = await bucketKeys(store);
  const problems: string[] = [];
  const known = new Set(images.map((image) => image.id));
  for (const id of confirmedImageIds) {
    if (!known.has(id)) problems.push(`I10 image ${id} was confirmed to a client but its upload is not CONFIRMED`);
  }
  for (const image of images) {
    if (!image.id) {
      problems.push(`I10 upload ${image.upload_id} is CONFIRMED but has no image`);
      continue;
    }
    if (image.status !== "READY") {
      problems.push(`I10 image ${image.id} is ${image.status}, not READY`);
      continue;
    }
    const fallback = image.content_type === "image/png" ? "png" : "jpg";
    const expected = renditionSizes.flatMap((size) => [`${size.name}.webp`, `${size.name}.${fallback}`]).sort();
    const renditions = (
      typeof image.renditions === "string" ? JSON.parse(image.renditions) : image.renditions
    ) as Array<{
      file: string;
    }>;
    const recorded = renditions.map((r) => r.file).sort();
    if (recorded.join() !== expected.join())
      problems.push(`I10 image ${image.id} records renditions ${recorded.join(", ")}, expected ${expected.join(", ")}`);
    const prefix = `images/${image.id}/`;
    const stored = [...keys].filter((key) => key.startsWith(prefix)).map((key) => key.slice(prefix.length));
    stored.sort();
    if (stored.join() !== expected.join())
      problems.push(
        `I10 image ${image.id} has ${stored.join(", ") || "no keys"} under ${prefix}, expected ${expected.join(", ")}`,
      );
    if (keys.has(`uploads/${image.upload_id}`))
      problems.push(`I10 image ${image.id} is processed but its original uploads/${image.upload_id} is still stored`);
  }
  return problems;
}

/** Every key in the bucket. */
async function bucketKeys(store: PictureBucket): Promise<Set<string>> {
  const client = new S3Client({
    endpoint: store.endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    // LOCAL ONLY: s3rver's fixed keys.
    credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
  });
  const keys = new Set<string>();
  try {
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: store.bucket, ContinuationToken: token }));
      for (const object of page.Contents ?? []) if (object.Key) keys.add(object.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  } finally {
    client.destroy();
  }
  return keys;
}
