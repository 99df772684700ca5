// SQL for pictures: uploads and images (services/product/domain/media.ts is their logic).
import { sql, type Kysely, type Transaction } from "kysely";
import type {
  ImageRow,
  ImageSlotName,
  ImageStatusName,
  MediaUploadRow,
  ProductDatabase,
  StoredRendition,
  UploadStatus,
} from "./database.ts";

type Db = Kysely<ProductDatabase> | Transaction<ProductDatabase>;

export async function insertUpload(
  db: Db,
  upload: Omit<MediaUploadRow, "object_removed" | "create_time" | "size_bytes" | "image_id"> & { size_bytes: number },
): Promise<void> {
  await db
    .insertInto("media_uploads")
    .values({ ...upload, image_id: null })
    .execute();
}

export async function findUpload(db: Db, id: string, lock?: "update"): Promise<MediaUploadRow | undefined> {
  let query = db.selectFrom("media_uploads").selectAll().where("id", "=", id);
  if (lock) query = query.forUpdate();
  return query.executeTakeFirst();
}

/** Moves a PENDING upload on; false when it was not PENDING any more. */
export async function closeUpload(
  db: Db,
  id: string,
  status: Exclude<UploadStatus, "PENDING">,
  change: { imageId?: string; objectRemoved?: boolean } = {},
): Promise<boolean> {
  const result = await db
    .updateTable("media_uploads")
    .set({
      status,
      ...(change.imageId ? { image_id: change.imageId } : {}),
      ...(change.objectRemoved ? { object_removed: 1 } : {}),
    })
    .where("id", "=", id)
    .where("status", "=", "PENDING")
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Images of an owner that count against its gallery: all but deleted ones. */
export async function countLiveImages(db: Db, ownerId: string, slot: ImageSlotName): Promise<number> {
  const row = await db
    .selectFrom("images")
    .select((eb) => eb.fn.countAll<string | number>().as("n"))
    .where("owner_id", "=", ownerId)
    .where("slot", "=", slot)
    .where("status", "!=", "DELETED")
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function nextPosition(db: Db, ownerId: string): Promise<number> {
  const row = await db
    .selectFrom("images")
    .select((eb) => eb.fn.max<number | null>("position").as("last"))
    .where("owner_id", "=", ownerId)
    .executeTakeFirst();
  return row?.last === null || row?.last === undefined ? 0 : Number(row.last) + 1;
}

export async function insertImage(
  db: Db,
  image: Omit<ImageRow, "create_time" | "update_time" | "placeholder" | "renditions">,
): Promise<void> {
  await db
    .insertInto("images")
    .values({ ...image, renditions: "[]" })
    .execute();
}

export async function findImage(db: Db, id: string, lock?: "update"): Promise<ImageRow | undefined> {
  let query = db.selectFrom("images").selectAll().where("id", "=", id);
  if (lock) query = query.forUpdate();
  return query.executeTakeFirst();
}

/** Renditions made: PROCESSING → READY. False when it was not PROCESSING (done before, or deleted). */
export async function markImageReady(
  db: Db,
  id: string,
  placeholder: string,
  renditions: StoredRendition[],
): Promise<boolean> {
  const result = await db
    .updateTable("images")
    .set({
      status: "READY",
      placeholder,
      renditions: JSON.stringify(renditions),
      update_time: sql<Date>`UTC_TIMESTAMP(6)`,
    })
    .where("id", "=", id)
    .where("status", "=", "PROCESSING")
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function setImageStatus(db: Db, ids: string[], status: ImageStatusName): Promise<void> {
  if (ids.length === 0) return;
  await db
    .updateTable("images")
    .set({ status, update_time: sql<Date>`UTC_TIMESTAMP(6)` })
    .where("id", "in", ids)
    .execute();
}

/** The owners' images in gallery order; only READY ones unless `everyStatus` (owners, admins). */
export async function imagesOf(db: Db, ownerIds: string[], everyStatus = false): Promise<ImageRow[]> {
  if (ownerIds.length === 0) return [];
  let query = db
    .selectFrom("images")
    .selectAll()
    .where("owner_id", "in", ownerIds)
    .orderBy("owner_id")
    .orderBy("position")
    .orderBy("id");
  query = everyStatus ? query.where("status", "!=", "DELETED") : query.where("status", "=", "READY");
  return query.execute();
}

export async function setImagePositions(db: Db, orderedIds: string[]): Promise<void> {
  for (const [position, id] of orderedIds.entries()) {
    await db.updateTable("images").set({ position }).where("id", "=", id).execute();
  }
}

export async function setAltText(db: Db, id: string, altText: string): Promise<void> {
  await db
    .updateTable("images")
    .set({ alt_text: altText, update_time: sql<Date>`UTC_TIMESTAMP(6)` })
    .where("id", "=", id)
    .execute();
}

/** Uploads whose object the cleanup job still has to delete: expired, refused, or processed. */
export async function uploadsToClean(db: Db, limit: number): Promise<MediaUploadRow[]> {
  return db
    .selectFrom("media_uploads")
    .selectAll()
    .where("object_removed", "=", 0)
    .where((eb) =>
      eb.or([
        eb.and([eb("status", "=", "PENDING"), eb("expire_time", "<", sql<Date>`UTC_TIMESTAMP(6)`)]),
        eb("status", "=", "REJECTED"),
        // Confirmed: the original is needed until its image is processed (or gone).
        eb.and([
          eb("status", "=", "CONFIRMED"),
          eb.not(
            eb.exists(
              eb
                .selectFrom("images")
                .select("images.id")
                .whereRef("images.id", "=", "media_uploads.image_id")
                .where("images.status", "=", "PROCESSING"),
            ),
          ),
        ]),
      ]),
    )
    .orderBy("create_time")
    .limit(limit)
    .execute();
}

/** The upload's object is gone; a PENDING one becomes EXPIRED. */
export async function markUploadObjectRemoved(db: Db, id: string): Promise<void> {
  await db
    .updateTable("media_uploads")
    .set({
      object_removed: 1,
      status: sql<UploadStatus>`IF(status = 'PENDING', 'EXPIRED', status)`,
    })
    .where("id", "=", id)
    .execute();
}

/** Replaced or removed logos and covers, whose files nothing links to any more. */
export async function deletedShopImages(db: Db, limit: number): Promise<ImageRow[]> {
  return db
    .selectFrom("images")
    .selectAll()
    .where("status", "=", "DELETED")
    .where("slot", "!=", "PRODUCT_GALLERY")
    .orderBy("update_time")
    .limit(limit)
    .execute();
}

export async function purgeImage(db: Db, id: string): Promise<void> {
  await db.deleteFrom("images").where("id", "=", id).where("status", "=", "DELETED").execute();
}

/** A seller's live products that never had a picture (not even one deleted since): what the demo fills. */
export async function productsWithoutPictures(
  db: Db,
  sellerId: string,
): Promise<Array<{ id: string; name: string; category_id: string }>> {
  return db
    .selectFrom("products")
    .select(["id", "name", "category_id"])
    .where("seller_id", "=", sellerId)
    .where("delete_time", "is", null)
    .where((eb) =>
      eb.not(eb.exists(eb.selectFrom("images").select("images.id").whereRef("images.owner_id", "=", "products.id"))),
    )
    .orderBy("id")
    .execute();
}
