// Shops: who owns them, where they are, and how far they are from a buyer.
import { inTransaction } from "../../kit/db.ts";
import type { Kysely, Transaction } from "kysely";
import type { Caller } from "../../kit/auth.ts";
import { appendEvent } from "../../kit/events.ts";
import { uuidv7 } from "../../kit/ids.ts";
import type { OutboxNotifier } from "../../kit/lifecycle.ts";
import type { PostalAddress } from "../../kit/postal-address.ts";
import type { ProductDatabase } from "../db/database.ts";
import type { ImageUrls } from "../media/image-proto.ts";
import {
  findShopById,
  findShopByIdForUpdate,
  insertShop,
  reactivateShopRow,
  suspendShopRow,
  updateShopRow,
} from "../db/shop.repository.ts";
import { canManage, NotAllowedError, ShopNotFoundError } from "./manage-catalog.ts";

export interface LatLng {
  latitude: number;
  longitude: number;
}

export interface Shop {
  id: string;
  sellerId: string;
  name: string;
  description: string;
  address: PostalAddress;
  location: LatLng;
  createTime: Date;
  updateTime: Date;
  /** Set while an admin has the shop suspended: its products are hidden from buyers. */
  suspendTime: Date | null;
  /** Why it is suspended; empty while active. */
  suspendReason: string;
}

export interface ShopDeps {
  db: Kysely<ProductDatabase>;
  outbox: OutboxNotifier;
  /** Where logos and covers are read from. */
  images: ImageUrls;
}

export const earthRadiusKm = 6371.0088;

/** Great-circle distance by the haversine formula; the reference the SQL query is tested against. */
export function haversineKm(a: LatLng, b: LatLng): number {
  const rad = Math.PI / 180;
  const dLat = (b.latitude - a.latitude) * rad;
  const dLng = (b.longitude - a.longitude) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.latitude * rad) * Math.cos(b.latitude * rad) * Math.sin(dLng / 2) ** 2;
  return 2 * earthRadiusKm * Math.asin(Math.min(1, Math.sqrt(h)));
}

/**
 * A latitude/longitude box that contains every point within `radiusKm`, for the indexed
 * pre-filter. Longitude is left open near the poles or across the antimeridian, where a box
 * would wrap.
 */
export function boundingBox(
  center: LatLng,
  radiusKm: number,
): { minLat: number; maxLat: number; minLng?: number; maxLng?: number } {
  const dLat = (radiusKm / earthRadiusKm) * (180 / Math.PI);
  const minLat = Math.max(-90, center.latitude - dLat);
  const maxLat = Math.min(90, center.latitude + dLat);
  const cosLat = Math.cos((center.latitude * Math.PI) / 180);
  if (maxLat >= 89.9 || minLat <= -89.9 || cosLat < 1e-6) return { minLat, maxLat };
  const dLng = dLat / cosLat;
  const minLng = center.longitude - dLng;
  const maxLng = center.longitude + dLng;
  if (minLng < -180 || maxLng > 180) return { minLat, maxLat };
  return { minLat, maxLat, minLng, maxLng };
}

export async function openShop(
  deps: ShopDeps,
  caller: Caller,
  shop: { name: string; description: string; address: PostalAddress; location: LatLng },
): Promise<Shop> {
  const id = uuidv7();
  await inTransaction(deps.db, async (trx) => {
    await insertShop(trx, { id, sellerId: caller.id, ...shop });
    await appendEvent(trx, {
      source: "product",
      actorId: caller.id,
      subjectId: id,
      payload: {
        case: "shopCreated",
        value: { shopId: id, sellerId: caller.id, name: shop.name, location: shop.location },
      },
    });
  });
  deps.outbox.wake();
  return (await findShopById(deps.db, id))!;
}

export async function changeShop(
  deps: ShopDeps,
  caller: Caller,
  id: string,
  changes: Partial<Pick<Shop, "name" | "description" | "address" | "location">>,
): Promise<Shop> {
  await inTransaction(deps.db, async (trx) => {
    const shop = await findShopByIdForUpdate(trx, id);
    if (!shop) throw new ShopNotFoundError(`shop ${id} not found`);
    if (!canManage(caller, shop.sellerId)) throw new NotAllowedError("you can only change your own shops");
    await updateShopRow(trx, id, changes);
    const changedFields = Object.keys(changes).filter((key) => changes[key as keyof typeof changes] !== undefined);
    await announceShopChange(trx, caller.id, { ...shop, ...changes }, changedFields);
  });
  deps.outbox.wake();
  return (await findShopById(deps.db, id))!;
}

/** ShopUpdated, for readers that keep catalog answers (the edge's cache). */
export async function announceShopChange(
  trx: Transaction<ProductDatabase>,
  actorId: string,
  shop: Pick<Shop, "id" | "sellerId" | "name">,
  changedFields: string[],
): Promise<void> {
  await appendEvent(trx, {
    source: "product",
    actorId,
    subjectId: shop.id,
    payload: {
      case: "shopUpdated",
      value: { shopId: shop.id, sellerId: shop.sellerId, name: shop.name, changedFields },
    },
  });
}

/**
 * Suspends or reactivates a shop and says so in an event, in one transaction. The products stay
 * as they are: every buyer-facing read leaves out the products of suspended shops, so lifting
 * the suspension restores exactly what was there. Asking for the state a shop is already in
 * changes nothing and emits nothing.
 */
export async function setShopSuspension(
  deps: ShopDeps,
  actorId: string,
  id: string,
  suspension: { suspended: true; reason: string } | { suspended: false },
): Promise<{ shop: Shop; changed: boolean }> {
  const changed = await inTransaction(deps.db, async (trx) => {
    const shop = await findShopByIdForUpdate(trx, id);
    if (!shop) throw new ShopNotFoundError(`shop ${id} not found`);
    const changed = suspension.suspended
      ? await suspendShopRow(trx, id, suspension.reason)
      : await reactivateShopRow(trx, id);
    if (!changed) return false;
    await appendEvent(trx, {
      source: "product",
      actorId,
      subjectId: id,
      payload: {
        case: "shopSuspensionChanged",
        value: {
          shopId: id,
          sellerId: shop.sellerId,
          suspended: suspension.suspended,
          reason: suspension.suspended ? suspension.reason : "",
        },
      },
    });
    return true;
  });
  if (changed) deps.outbox.wake();
  return { shop: (await findShopById(deps.db, id))!, changed };
}
