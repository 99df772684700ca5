// Carts, lines and product snapshots: the only place in the cart service with SQL.
import { sql, type Kysely, type Transaction } from "kysely";
import { deferStatement } from "../../kit/db.ts";
import type { CartLine, ProductSnapshot } from "../domain/cart.ts";
import type { CartDatabase, ProductSnapshotRow } from "./database.ts";

type Db = Kysely<CartDatabase> | Transaction<CartDatabase>;

/**
 * The user's cart in one statement: its lines in order, the snapshots held of their products, and
 * when it last changed (undefined for a cart never changed). With `product`, that product's
 * snapshot too (in the cart or not) if its facts are from `notBefore` or later.
 */
export async function readCart(
  db: Db,
  userId: string,
  product?: { productId: string; notBefore: Date },
): Promise<{
  lines: CartLine[];
  snapshots: Map<string, ProductSnapshot>;
  updateTime: Date | undefined;
  product?: ProductSnapshot;
}> {
  const snapshotColumns = sql`s.product_id, s.shop_id, s.name, s.unit_price_minor, s.currency_code, s.image_url, s.image,
       s.for_sale, s.stock_available`;
  const productRow = product
    ? sql`UNION ALL SELECT 'product', NULL, NULL, NULL, NULL, ${snapshotColumns}
     FROM product_snapshots AS s WHERE s.product_id = ${product.productId} AND s.source_time >= ${product.notBefore}`
    : sql``;
  const { rows } = await sql<
    {
      k: "line" | "product";
      update_time: Date | null;
      line_product_id: string | null;
      quantity: number;
      add_time: Date;
    } & Partial<Omit<ProductSnapshotRow, "source_time">>
  >`SELECT 'line' AS k, c.update_time, l.product_id AS line_product_id, l.quantity, l.add_time, ${snapshotColumns}
     FROM (SELECT ${userId} AS user_id) AS u
     LEFT JOIN carts AS c ON c.user_id = u.user_id
     LEFT JOIN cart_lines AS l ON l.user_id = u.user_id
     LEFT JOIN product_snapshots AS s ON s.product_id = l.product_id
     ${productRow}
     ORDER BY add_time, line_product_id`.execute(db);
  const lines: CartLine[] = [];
  const snapshots = new Map<string, ProductSnapshot>();
  let asked: ProductSnapshot | undefined;
  let updateTime: Date | undefined;
  for (const row of rows) {
    if (row.k === "product") {
      asked = toSnapshot(row as Omit<ProductSnapshotRow, "source_time">);
      continue;
    }
    updateTime = row.update_time ?? undefined;
    if (row.line_product_id === null) continue;
    lines.push({ productId: row.line_product_id, quantity: row.quantity, addTime: row.add_time });
    if (row.product_id) snapshots.set(row.product_id, toSnapshot(row as Omit<ProductSnapshotRow, "source_time">));
  }
  return { lines, snapshots, updateTime, ...(asked && { product: asked }) };
}

/**
 * Creates the cart row if needed, locks it and marks it changed now, in one statement: one user's
 * cart changes one at a time, and a change that rolls back leaves the time as it was.
 */
export async function lockAndTouchCart(trx: Transaction<CartDatabase>, userId: string): Promise<Date> {
  const now = new Date();
  await deferStatement(
    trx,
    trx.insertInto("carts").values({ user_id: userId, update_time: now }).onDuplicateKeyUpdate({ update_time: now }),
  );
  return now;
}

/** Sets a line's quantity; a new line is added at `addTime`. */
export async function setLineQuantity(
  trx: Transaction<CartDatabase>,
  userId: string,
  productId: string,
  quantity: number,
  addTime: Date,
): Promise<void> {
  await deferStatement(
    trx,
    trx
      .insertInto("cart_lines")
      .values({ user_id: userId, product_id: productId, quantity, add_time: addTime })
      .onDuplicateKeyUpdate({ quantity }),
  );
}

/** Deletes lines; all of the user's when no product is named. Returns how many went. */
export async function deleteLines(trx: Transaction<CartDatabase>, userId: string, productId?: string): Promise<number> {
  let query = trx.deleteFrom("cart_lines").where("user_id", "=", userId);
  if (productId) query = query.where("product_id", "=", productId);
  return Number((await query.executeTakeFirst()).numDeletedRows);
}

/** Deletes the user's cart: its lines and the cart row. */
export async function deleteCart(trx: Transaction<CartDatabase>, userId: string): Promise<void> {
  await trx.deleteFrom("cart_lines").where("user_id", "=", userId).execute();
  await trx.deleteFrom("carts").where("user_id", "=", userId).execute();
}

/**
 * Takes each quantity off its product's line when the line was already in the cart at `addedBy`
 * (a line added later is left alone): lines bought whole are deleted, the rest lowered, in two
 * statements for all of them.
 */
export async function subtractFromLines(
  trx: Transaction<CartDatabase>,
  userId: string,
  items: Array<{ productId: string; quantity: number }>,
  addedBy: Date,
): Promise<void> {
  const bought = new Map<string, number>();
  for (const item of items) bought.set(item.productId, (bought.get(item.productId) ?? 0) + item.quantity);
  if (bought.size === 0) return;
  const productIds = [...bought.keys()];
  const boughtOfLine = sql<number>`CASE product_id ${sql.join(
    [...bought].map(([productId, quantity]) => sql`WHEN ${productId} THEN ${quantity}`),
    sql` `,
  )} END`;
  await deferStatement(
    trx,
    trx
      .deleteFrom("cart_lines")
      .where("user_id", "=", userId)
      .where("product_id", "in", productIds)
      .where("add_time", "<=", addedBy)
      .where("quantity", "<=", boughtOfLine),
  );
  await deferStatement(
    trx,
    trx
      .updateTable("cart_lines")
      .set({ quantity: sql<number>`quantity - ${boughtOfLine}` })
      .where("user_id", "=", userId)
      .where("product_id", "in", productIds)
      .where("add_time", "<=", addedBy),
  );
}

export async function findSnapshots(db: Db, productIds: string[]): Promise<Map<string, ProductSnapshot>> {
  if (productIds.length === 0) return new Map();
  const rows = await db.selectFrom("product_snapshots").selectAll().where("product_id", "in", productIds).execute();
  return new Map(rows.map((row) => [row.product_id, toSnapshot(row)]));
}

/** Stores what the product service just said; it is the newest fact, whatever came before. */
export async function saveSnapshots(db: Db, snapshots: ProductSnapshot[], sourceTime: Date): Promise<void> {
  for (const snapshot of snapshots) {
    const values = {
      name: snapshot.name,
      unit_price_minor: snapshot.unitPriceMinor,
      currency_code: snapshot.currencyCode,
      image_url: snapshot.imageUrl,
      image: snapshot.imageJson,
      for_sale: snapshot.forSale ? 1 : 0,
      stock_available: snapshot.stockAvailable,
      source_time: sourceTime,
      shop_id: snapshot.shopId,
    };
    await db
      .insertInto("product_snapshots")
      .values({ product_id: snapshot.productId, ...values })
      .onDuplicateKeyUpdate(values)
      .execute();
  }
}

/** Stock is not among them: it moves by applyStockLevels. */
export type SnapshotChange = Partial<Omit<ProductSnapshot, "productId" | "stockAvailable">>;

/** Applies an event's facts to a cached product, unless a newer fact is already there. */
export async function applyToSnapshot(
  db: Db,
  productId: string,
  change: SnapshotChange,
  sourceTime: Date,
): Promise<void> {
  await db
    .updateTable("product_snapshots")
    .set({
      ...(change.name !== undefined && { name: change.name }),
      ...(change.unitPriceMinor !== undefined && { unit_price_minor: change.unitPriceMinor }),
      ...(change.imageUrl !== undefined && { image_url: change.imageUrl }),
      ...(change.imageJson !== undefined && { image: change.imageJson }),
      ...(change.forSale !== undefined && { for_sale: change.forSale ? 1 : 0 }),
      source_time: sourceTime,
    })
    .where("product_id", "=", productId)
    .where("source_time", "<=", sourceTime)
    .execute();
}

/** Several products' available stock from one stock move, in one statement. */
export async function applyStockLevels(
  db: Db,
  levels: Array<{ productId: string; stockAvailable: number }>,
  sourceTime: Date,
): Promise<void> {
  if (levels.length === 0) return;
  const available = sql<number>`CASE product_id ${sql.join(
    levels.map((level) => sql`WHEN ${level.productId} THEN ${level.stockAvailable}`),
    sql` `,
  )} END`;
  await deferStatement(
    db,
    db
      .updateTable("product_snapshots")
      .set({ stock_available: available, source_time: sourceTime })
      .where(
        "product_id",
        "in",
        levels.map((level) => level.productId),
      )
      .where("source_time", "<=", sourceTime),
  );
}

/**
 * A shop's suspension: its products' snapshots show them off sale, with the names and prices
 * they had. Snapshots of unknown shop (taken before shops were recorded) are dropped, so the
 * next read fetches them from the product service, which leaves out a suspended shop's products.
 */
export async function takeShopOffSale(db: Db, shopId: string, sourceTime: Date): Promise<void> {
  await db
    .updateTable("product_snapshots")
    .set({ for_sale: 0, source_time: sourceTime })
    .where("shop_id", "=", shopId)
    .where("source_time", "<=", sourceTime)
    .execute();
  await db.deleteFrom("product_snapshots").where("shop_id", "is", null).execute();
}

/**
 * A shop's reactivation: its products' snapshots are dropped and fetched again on the next
 * read, since whether each is for sale depends on the product too (it may have been
 * deactivated or deleted meanwhile).
 */
export async function forgetShopSnapshots(db: Db, shopId: string): Promise<void> {
  await db
    .deleteFrom("product_snapshots")
    .where((eb) => eb.or([eb("shop_id", "=", shopId), eb("shop_id", "is", null)]))
    .execute();
}

function toSnapshot(row: Omit<ProductSnapshotRow, "source_time">): ProductSnapshot {
  return {
    productId: row.product_id,
    shopId: row.shop_id ?? "",
    name: row.name,
    unitPriceMinor: BigInt(row.unit_price_minor),
    currencyCode: row.currency_code,
    imageUrl: row.image_url,
    imageJson: row.image,
    forSale: Boolean(row.for_sale),
    stockAvailable: row.stock_available,
  };
}
