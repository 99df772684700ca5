// Shops: SQL of the hyperlocal side of the product service.
import { sql, type Kysely, type Transaction } from "kysely";
import { containsPattern, jsonColumn } from "../../kit/db.ts";
import type { PostalAddress } from "../../kit/postal-address.ts";
import { boundingBox, earthRadiusKm, type LatLng, type Shop } from "../domain/shops.ts";
import type { ProductDatabase, ShopRow } from "./database.ts";

type Db = Kysely<ProductDatabase> | Transaction<ProductDatabase>;

export async function findShopById(db: Db, id: string): Promise<Shop | undefined> {
  const row = await db.selectFrom("shops").selectAll().where("id", "=", id).executeTakeFirst();
  return row && toShop(row);
}

export async function findShopByIdForUpdate(trx: Transaction<ProductDatabase>, id: string): Promise<Shop | undefined> {
  const row = await trx.selectFrom("shops").selectAll().where("id", "=", id).forUpdate().executeTakeFirst();
  return row && toShop(row);
}

export async function insertShop(
  db: Db,
  shop: { id: string; sellerId: string; name: string; description: string; address: PostalAddress; location: LatLng },
): Promise<void> {
  await db
    .insertInto("shops")
    .values({
      id: shop.id,
      seller_id: shop.sellerId,
      name: shop.name,
      description: shop.description,
      address: JSON.stringify(shop.address),
      latitude: shop.location.latitude,
      longitude: shop.location.longitude,
    })
    .execute();
}

export async function updateShopRow(
  db: Db,
  id: string,
  changes: Partial<Pick<Shop, "name" | "description" | "address" | "location">>,
) {
  await db
    .updateTable("shops")
    .set({
      ...(changes.name !== undefined && { name: changes.name }),
      ...(changes.description !== undefined && { description: changes.description }),
      ...(changes.address !== undefined && { address: JSON.stringify(changes.address) }),
      ...(changes.location !== undefined && {
        latitude: changes.location.latitude,
        longitude: changes.location.longitude,
      }),
      update_time: sql<Date>`UTC_TIMESTAMP(6)`,
    })
    .where("id", "=", id)
    .execute();
}

export async function isShopSuspended(db: Db, id: string): Promise<boolean> {
  const row = await db.selectFrom("shops").select("suspend_time").where("id", "=", id).executeTakeFirst();
  return row?.suspend_time != null;
}

/** Suspends an active shop; false when there is no such shop or it was already suspended. */
export async function suspendShopRow(db: Db, id: string, reason: string): Promise<boolean> {
  const result = await db
    .updateTable("shops")
    .set({
      suspend_time: sql<Date>`UTC_TIMESTAMP(6)`,
      suspend_reason: reason,
      update_time: sql<Date>`UTC_TIMESTAMP(6)`,
    })
    .where("id", "=", id)
    .where("suspend_time", "is", null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Lifts a shop's suspension; false when there is no such shop or it was not suspended. */
export async function reactivateShopRow(db: Db, id: string): Promise<boolean> {
  const result = await db
    .updateTable("shops")
    .set({ suspend_time: null, suspend_reason: "", update_time: sql<Date>`UTC_TIMESTAMP(6)` })
    .where("id", "=", id)
    .where("suspend_time", "is not", null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export interface ShopListQuery {
  suspended?: boolean;
  sellerId?: string;
  nameContains?: string;
  /** Keyset: shops older than this one (ids are UUIDv7). */
  beforeId?: string;
  limit: number;
}

/** Every shop matching the filters, suspended ones included, newest first. */
export async function listAllShops(db: Db, query: ShopListQuery): Promise<Shop[]> {
  let select = db.selectFrom("shops").selectAll();
  if (query.suspended !== undefined) select = select.where("suspend_time", query.suspended ? "is not" : "is", null);
  if (query.sellerId) select = select.where("seller_id", "=", query.sellerId);
  if (query.nameContains) select = select.where("name", "like", containsPattern(query.nameContains));
  if (query.beforeId) select = select.where("id", "<", query.beforeId);
  const rows = await select.orderBy("id", "desc").limit(query.limit).execute();
  return rows.map(toShop);
}

export interface NearbyQuery {
  center: LatLng;
  radiusKm: number;
  nameContains?: string;
  /** Keyset: shops farther than this one (distance, then id). */
  after?: { distanceKm: number; id: string };
  limit: number;
}

/**
 * Shops within the radius, nearest first. The latitude/longitude box uses the
 * (latitude, longitude) index to cut the candidates; the exact haversine distance then decides.
 */
export async function listShopsNear(db: Db, query: NearbyQuery): Promise<Array<{ shop: Shop; distanceKm: number }>> {
  const { center, radiusKm } = query;
  const box = boundingBox(center, radiusKm);
  // Rounded to the micrometre: the page token carries the last distance as the client saw it,
  // and a full double does not survive the trip as text exactly (a shop at a page's end came
  // again on the next page). A value of at most 14 significant digits does, both ways.
  const distance = sql<number>`ROUND(${2 * earthRadiusKm} * ASIN(LEAST(1, SQRT(
      POW(SIN(RADIANS(latitude - ${center.latitude}) / 2), 2) +
      COS(RADIANS(${center.latitude})) * COS(RADIANS(latitude)) * POW(SIN(RADIANS(longitude - ${center.longitude}) / 2), 2)))), 9)`;
  let select = db
    .selectFrom("shops")
    .selectAll()
    .select(distance.as("distance_km"))
    .where("latitude", ">=", box.minLat as never)
    .where("latitude", "<=", box.maxLat as never)
    .where("suspend_time", "is", null);
  if (box.minLng !== undefined) {
    select = select.where("longitude", ">=", box.minLng as never).where("longitude", "<=", box.maxLng as never);
  }
  if (query.nameContains) select = select.where("name", "like", containsPattern(query.nameContains));
  let filtered = select.having(distance, "<=", radiusKm);
  if (query.after) {
    const { distanceKm, id } = query.after;
    filtered = filtered.having((eb) =>
      eb.or([eb(distance, ">", distanceKm), eb.and([eb(distance, "=", distanceKm), eb("id", ">", id)])]),
    );
  }
  const rows = await filtered.orderBy("distance_km").orderBy("id").limit(query.limit).execute();
  return rows.map((row) => ({ shop: toShop(row), distanceKm: Number(row.distance_km) }));
}

function toShop(row: ShopRow): Shop {
  const address = jsonColumn<Partial<PostalAddress>>(row.address);
  return {
    id: row.id,
    sellerId: row.seller_id,
    name: row.name,
    description: row.description,
    address: {
      recipientName: address.recipientName ?? "",
      line1: address.line1 ?? "",
      line2: address.line2 ?? "",
      city: address.city ?? "",
      region: address.region ?? "",
      postalCode: address.postalCode ?? "",
      countryCode: address.countryCode ?? "",
      phone: address.phone ?? "",
    },
    location: { latitude: Number(row.latitude), longitude: Number(row.longitude) },
    createTime: row.create_time,
    updateTime: row.update_time,
    suspendTime: row.suspend_time,
    suspendReason: row.suspend_reason,
  };
}
