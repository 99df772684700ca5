// Pictures of products and shops: presigned uploads, the check on confirm, the worker that makes
// renditions, gallery changes and the cleanup of storage. The bytes go client → storage →
// worker; the database holds what exists and in which state, and every change that buyers see
// is an event in the same transaction.
import type { Kysely, Transaction } from "kysely";
import type { Event } from "../../../gen/bazaar/events/v1/events_pb.ts";
import type { Caller } from "../../kit/auth.ts";
import { appendEvent } from "../../kit/events.ts";
import { uuidv7 } from "../../kit/ids.ts";
import type { OutboxNotifier } from "../../kit/lifecycle.ts";
import type { Logger } from "../../kit/log.ts";
import type { ImageRow, ImageSlotName, MediaUploadRow, ProductDatabase, StoredRendition } from "../db/database.ts";
import {
  closeUpload,
  countLiveImages,
  deletedShopImages,
  findImage,
  findUpload,
  imagesOf,
  insertImage,
  insertUpload,
  markImageReady,
  markUploadObjectRemoved,
  nextPosition,
  purgeImage,
  setAltText,
  setImagePositions,
  setImageStatus,
  uploadsToClean,
} from "../db/media.repository.ts";
import { findProductById, findProductForUpdate } from "../db/product.repository.ts";
import { findShopById } from "../db/shop.repository.ts";
import type { MediaConfig } from "../media/config.ts";
import { checkImage, ImageRefusedError, renderImage, type ImageType } from "../media/images.ts";
import { renditionKey, uploadKey, type ObjectStorage } from "../media/storage.ts";
import { ProductNotFoundError, type Product } from "./catalog.ts";
import { canManage, manageable, NotAllowedError, ShopNotFoundError } from "./manage-catalog.ts";
import { productUpdatedEvent } from "./product-events.ts";
import { announceShopChange } from "./shops.ts";

export interface MediaDeps {
  db: Kysely<ProductDatabase>;
  outbox: OutboxNotifier;
  storage: ObjectStorage;
  config: Pick<MediaConfig, "maxUploadBytes" | "maxPixels" | "uploadTtlSeconds" | "maxGalleryImages">;
}

export class UploadNotFoundError extends Error {
  override name = "UploadNotFoundError";
  readonly uploadId: string;
  constructor(uploadId: string, why: string) {
    super(`upload ${uploadId} ${why}`);
    this.uploadId = uploadId;
  }
}

export class GalleryFullError extends Error {
  override name = "GalleryFullError";
  readonly productId: string;
  readonly maxImages: number;
  constructor(productId: string, maxImages: number) {
    super(`product ${productId} has ${maxImages} pictures, the most a gallery holds`);
    this.productId = productId;
    this.maxImages = maxImages;
  }
}

export class ImageNotFoundError extends Error {
  override name = "ImageNotFoundError";
}

export class InvalidGalleryOrderError extends Error {
  override name = "InvalidGalleryOrderError";
}

/** The product or shop a picture belongs to, if `caller` may change its pictures. */
async function ownerFor(
  db: Kysely<ProductDatabase> | Transaction<ProductDatabase>,
  caller: Caller,
  slot: ImageSlotName,
  ownerId: string,
) {
  if (slot === "PRODUCT_GALLERY") {
    const product = await findProductById(db, ownerId);
    if (!product || product.deleted) throw new ProductNotFoundError(ownerId);
    if (!canManage(caller, product.sellerId))
      throw new NotAllowedError("you can only change the pictures of your own products");
    return { sellerId: product.sellerId };
  }
  const shop = await findShopById(db, ownerId);
  if (!shop) throw new ShopNotFoundError(`shop ${ownerId} not found`);
  if (!canManage(caller, shop.sellerId))
    throw new NotAllowedError("you can only change the pictures of your own shops");
  return { sellerId: shop.sellerId };
}

function tooLarge(sizeBytes: number, maxBytes: number): ImageRefusedError {
  return new ImageRefusedError("IMAGE_TOO_LARGE", `size_bytes: ${sizeBytes} bytes, at most ${maxBytes} are taken`, {
    size_bytes: String(sizeBytes),
    max_size_bytes: String(maxBytes),
  });
}

export interface UploadRequest {
  slot: ImageSlotName;
  ownerId: string;
  contentType: string;
  sizeBytes: number;
  altText: string;
}

export interface PresignedUpload {
  uploadId: string;
  uploadUrl: string;
  uploadHeaders: Record<string, string>;
  expireTime: Date;
  maxSizeBytes: number;
}

export async function createImageUpload(
  deps: MediaDeps,
  caller: Caller,
  request: UploadRequest,
): Promise<PresignedUpload> {
  const { config } = deps;
  if (request.sizeBytes > config.maxUploadBytes) throw tooLarge(request.sizeBytes, config.maxUploadBytes);
  await ownerFor(deps.db, caller, request.slot, request.ownerId);
  if (
    request.slot === "PRODUCT_GALLERY" &&
    (await countLiveImages(deps.db, request.ownerId, request.slot)) >= config.maxGalleryImages
  )
    throw new GalleryFullError(request.ownerId, config.maxGalleryImages);
  const uploadId = uuidv7();
  const expireTime = new Date(Date.now() + config.uploadTtlSeconds * 1000);
  await insertUpload(deps.db, {
    id: uploadId,
    slot: request.slot,
    owner_id: request.ownerId,
    uploader_id: caller.id,
    content_type: request.contentType,
    size_bytes: request.sizeBytes,
    alt_text: request.altText,
    status: "PENDING",
    expire_time: expireTime,
  });
  const uploadUrl = await deps.storage.presignPut(
    uploadKey(uploadId),
    request.contentType,
    request.sizeBytes,
    config.uploadTtlSeconds,
  );
  return {
    uploadId,
    uploadUrl,
    uploadHeaders: { "Content-Type": request.contentType },
    expireTime,
    maxSizeBytes: config.maxUploadBytes,
  };
}

/**
 * Checks the stored object and turns the upload into an image (PROCESSING) with its
 * ImageUploaded event. A refused picture is deleted from storage at once. Confirming again
 * answers the same image.
 */
export async function confirmImageUpload(deps: MediaDeps, caller: Caller, uploadId: string): Promise<ImageRow> {
  const upload = await findUpload(deps.db, uploadId);
  if (!upload) throw new UploadNotFoundError(uploadId, "not found");
  await ownerFor(deps.db, caller, upload.slot, upload.owner_id);
  if (upload.status === "CONFIRMED") return (await findImage(deps.db, upload.image_id!))!;
  if (upload.status !== "PENDING" || upload.expire_time.getTime() < Date.now())
    throw new UploadNotFoundError(uploadId, upload.status === "REJECTED" ? "was refused" : "has expired");
  const limits = {
    maxBytes: Math.min(deps.config.maxUploadBytes, Number(upload.size_bytes)),
    maxPixels: deps.config.maxPixels,
  };
  let checked: Awaited<ReturnType<typeof checkImage>>;
  try {
    // The size first, from a HEAD: a store that let more through than was signed for (s3rver
    // does) must not make this process read a gigabyte to find out.
    const size = await deps.storage.sizeOf(uploadKey(uploadId));
    if (size === undefined)
      throw new UploadNotFoundError(uploadId, "has no file in storage: PUT it to the upload URL first");
    if (size > limits.maxBytes) throw tooLarge(size, limits.maxBytes);
    const stored = await deps.storage.get(uploadKey(uploadId));
    if (!stored) throw new UploadNotFoundError(uploadId, "has no file in storage: PUT it to the upload URL first");
    checked = await checkImage(stored.bytes, upload.content_type, limits);
  } catch (error) {
    if (error instanceof ImageRefusedError) {
      // Nothing of a refused picture stays: the file now, the row says why it went.
      await deps.storage.delete(uploadKey(uploadId));
      await closeUpload(deps.db, uploadId, "REJECTED", { objectRemoved: true });
    }
    throw error;
  }
  const imageId = uuidv7();
  const image = await deps.db.transaction().execute(async (trx) => {
    const locked = (await findUpload(trx, uploadId, "update"))!;
    // A confirm that raced this one won: answer its image.
    if (locked.status === "CONFIRMED") return (await findImage(trx, locked.image_id!))!;
    if (locked.status !== "PENDING") throw new UploadNotFoundError(uploadId, "has expired");
    if (locked.slot === "PRODUCT_GALLERY") await findProductForUpdate(trx, locked.owner_id);
    const row = {
      id: imageId,
      slot: locked.slot,
      owner_id: locked.owner_id,
      upload_id: uploadId,
      position: await nextPosition(trx, locked.owner_id),
      alt_text: locked.alt_text,
      status: "PROCESSING" as const,
      content_type: checked.type,
      width: checked.width,
      height: checked.height,
    };
    await insertImage(trx, row);
    await closeUpload(trx, uploadId, "CONFIRMED", { imageId });
    await appendEvent(trx, {
      source: "product",
      actorId: caller.id,
      subjectId: imageId,
      payload: {
        case: "imageUploaded",
        value: { imageId, uploadId, slot: locked.slot, ownerId: locked.owner_id, contentType: checked.type },
      },
    });
    return (await findImage(trx, imageId))!;
  });
  deps.outbox.wake();
  return image;
}

/**
 * The worker: makes the renditions and placeholder of an uploaded image, stores them, then marks
 * it READY. Idempotent: a repeated event finds it READY and does nothing; a run that died half
 * way wrote the same keys, which the next run overwrites. For a shop, the logo or cover it
 * replaces is deleted; for a product, ProductUpdated tells carts its main image.
 */
export function processUploadedImages(deps: MediaDeps & { log: Logger }) {
  return async (event: Event, trx: Transaction<ProductDatabase>): Promise<void> => {
    if (event.payload.case !== "imageUploaded") return;
    const { imageId, uploadId } = event.payload.value;
    const image = await findImage(trx, imageId);
    if (image?.status !== "PROCESSING") return;
    const original = await deps.storage.get(uploadKey(uploadId));
    if (!original) throw new Error(`the original of image ${imageId} (upload ${uploadId}) is not in storage`);
    let rendered: Awaited<ReturnType<typeof renderImage>>;
    try {
      rendered = await renderImage(original.bytes, image.content_type as ImageType, deps.config);
    } catch (error) {
      // Checked on confirm, yet sharp cannot make it: no retry will, so its seller sees FAILED.
      deps.log.error({ err: error, imageId }, "image could not be processed; marked FAILED");
      await setImageStatus(trx, [imageId], "FAILED");
      if (image.slot === "PRODUCT_GALLERY") {
        // Its seller's view of the product changed: read caches hear of it.
        const product = await findProductById(trx, image.owner_id);
        if (product) await announceGalleryChange(trx, deps.storage, product, "service:product");
        deps.outbox.wake();
      }
      return;
    }
    for (const file of rendered.files) {
      await deps.storage.put(renditionKey(imageId, file.file), file.bytes, file.contentType);
    }
    const renditions: StoredRendition[] = rendered.files.map((f) => ({
      name: f.name,
      file: f.file,
      contentType: f.contentType,
      width: f.width,
      height: f.height,
      sizeBytes: f.bytes.length,
    }));
    if (!(await markImageReady(trx, imageId, rendered.placeholder, renditions))) return;
    if (image.slot === "PRODUCT_GALLERY") {
      const product = await findProductById(trx, image.owner_id);
      if (product) await announceGalleryChange(trx, deps.storage, product, "service:product");
    } else {
      // The logo or cover this one replaces.
      const before = (await imagesOf(trx, [image.owner_id], true)).filter(
        (i) => i.slot === image.slot && i.id !== imageId,
      );
      await setImageStatus(
        trx,
        before.map((i) => i.id),
        "DELETED",
      );
      const shop = await findShopById(trx, image.owner_id);
      if (shop) await announceShopChange(trx, "service:product", shop, [shopImageField(image.slot)]);
    }
    deps.outbox.wake();
  };
}

/** ProductUpdated with the gallery's main image, for carts and other readers of product events. */
async function announceGalleryChange(
  trx: Transaction<ProductDatabase>,
  storage: ObjectStorage,
  product: Product,
  actorId: string,
): Promise<void> {
  await appendEvent(trx, await productUpdatedEvent(trx, storage, product, product, ["images"], actorId));
}

/** The product (locked) and its gallery, after checking that `caller` may change its pictures. */
async function managedGallery(trx: Transaction<ProductDatabase>, caller: Caller, productId: string) {
  const product = manageable(caller, await findProductForUpdate(trx, productId), productId, "change the pictures of");
  const gallery = (await imagesOf(trx, [productId], true)).filter((i) => i.slot === "PRODUCT_GALLERY");
  return { product, gallery };
}

export async function reorderProductImages(
  deps: MediaDeps,
  caller: Caller,
  productId: string,
  imageIds: string[],
): Promise<ImageRow[]> {
  await deps.db.transaction().execute(async (trx) => {
    const { product, gallery } = await managedGallery(trx, caller, productId);
    const known = new Set(gallery.map((i) => i.id));
    if (imageIds.length !== known.size || !imageIds.every((id) => known.has(id)))
      throw new InvalidGalleryOrderError(
        `image_ids: name each of the product's ${known.size} pictures once (${[...known].join(", ")})`,
      );
    await setImagePositions(trx, imageIds);
    await announceGalleryChange(trx, deps.storage, product, caller.id);
  });
  deps.outbox.wake();
  return (await imagesOf(deps.db, [productId], true)).filter((i) => i.slot === "PRODUCT_GALLERY");
}

export async function updateProductImage(
  deps: MediaDeps,
  caller: Caller,
  productId: string,
  imageId: string,
  altText: string,
): Promise<ImageRow> {
  await deps.db.transaction().execute(async (trx) => {
    const { product, gallery } = await managedGallery(trx, caller, productId);
    if (!gallery.some((i) => i.id === imageId)) throw new ImageNotFoundError(`image ${imageId} not found`);
    await setAltText(trx, imageId, altText);
    await announceGalleryChange(trx, deps.storage, product, caller.id);
  });
  deps.outbox.wake();
  return (await findImage(deps.db, imageId))!;
}

/** Out of the gallery now; its files stay for the orders whose snapshot shows it. */
export async function deleteProductImage(
  deps: MediaDeps,
  caller: Caller,
  productId: string,
  imageId: string,
): Promise<void> {
  await deps.db.transaction().execute(async (trx) => {
    const { product, gallery } = await managedGallery(trx, caller, productId);
    if (!gallery.some((i) => i.id === imageId)) throw new ImageNotFoundError(`image ${imageId} not found`);
    await setImageStatus(trx, [imageId], "DELETED");
    await announceGalleryChange(trx, deps.storage, product, caller.id);
  });
  deps.outbox.wake();
}

export async function deleteShopImage(
  deps: MediaDeps,
  caller: Caller,
  shopId: string,
  slot: ImageSlotName,
): Promise<void> {
  await ownerFor(deps.db, caller, slot, shopId);
  await deps.db.transaction().execute(async (trx) => {
    const current = (await imagesOf(trx, [shopId], true)).filter((i) => i.slot === slot);
    if (current.length === 0) return;
    await setImageStatus(
      trx,
      current.map((i) => i.id),
      "DELETED",
    );
    const shop = await findShopById(trx, shopId);
    if (shop) await announceShopChange(trx, caller.id, shop, [shopImageField(slot)]);
  });
  deps.outbox.wake();
}

/** The Shop field a logo or cover slot fills. */
function shopImageField(slot: string): string {
  return slot === "SHOP_LOGO" ? "logo" : "cover";
}

/**
 * The leased cleanup job: deletes from storage the uploads nobody confirmed in time, refused
 * ones a confirm could not delete, originals whose image is processed, and the files of replaced
 * or removed logos and covers; then forgets them. A picture taken out of a product's gallery
 * keeps its files (and its DELETED row, which says they exist): orders placed before show it in
 * their snapshot. Storage that is away fails the run, and the next one goes on.
 */
export async function cleanUpMedia(deps: Pick<MediaDeps, "db" | "storage">, batch = 100): Promise<number> {
  let cleaned = 0;
  for (const upload of await uploadsToClean(deps.db, batch)) {
    await deps.storage.delete(uploadKey(upload.id));
    await markUploadObjectRemoved(deps.db, upload.id);
    cleaned++;
  }
  for (const image of await deletedShopImages(deps.db, batch)) {
    for (const rendition of parseRenditions(image.renditions)) {
      await deps.storage.delete(renditionKey(image.id, rendition.file));
    }
    await purgeImage(deps.db, image.id);
    cleaned++;
  }
  return cleaned;
}

export function parseRenditions(value: unknown): StoredRendition[] {
  return (typeof value === "string" ? JSON.parse(value) : value) as StoredRendition[];
}

export type { ImageRow, MediaUploadRow };
