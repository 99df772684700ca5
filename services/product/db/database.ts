// The product service's database, typed once.
import type { ColumnType, Generated, Insertable, Selectable } from "kysely";
import type { EventTables } from "../../kit/events.ts";

export interface CategoriesTable {
  id: string;
  parent_id: string | null;
  name: string;
  slug: string;
  sort_order: number;
  create_time: Generated<Date>;
}

export interface ShopsTable {
  id: string;
  seller_id: string;
  name: string;
  description: string;
  // JSON columns: MariaDB hands them back as text, MySQL 8 as parsed values.
  address: ColumnType<unknown, string, string>;
  // DECIMAL comes back from mysql2 as a string; written as a number.
  latitude: ColumnType<string, number, number>;
  longitude: ColumnType<string, number, number>;
  create_time: Generated<Date>;
  update_time: Generated<Date>;
  /** Set while an admin has the shop suspended. */
  suspend_time: Date | null;
  suspend_reason: Generated<string>;
}

export interface ProductsTable {
  id: string;
  shop_id: string;
  seller_id: string;
  category_id: string;
  name: string;
  description: string;
  // BIGINT arrives as an exact string (bigNumberStrings) and is written from a bigint.
  price_minor: ColumnType<string, bigint | string, bigint | string>;
  currency_code: string;
  tags: ColumnType<unknown, string, string>;
  tags_text: string;
  image_urls: ColumnType<unknown, string, string>;
  stock_on_hand: Generated<number>;
  stock_held: Generated<number>;
  featured: Generated<number>;
  active: Generated<number>;
  delete_time: Date | null;
  create_time: Generated<Date>;
  update_time: Generated<Date>;
}

export type ReservationStatus = "HELD" | "COMMITTED" | "RELEASED" | "EXPIRED" | "RETURNED";

export interface ReservationsTable {
  id: string;
  status: ReservationStatus;
  expire_time: Date;
  create_time: Generated<Date>;
  update_time: Generated<Date>;
}

export interface ReservationItemsTable {
  reservation_id: string;
  product_id: string;
  quantity: number;
}

/** One product of a partial return (ReturnReservationItems). */
export interface ReservationReturnsTable {
  reservation_id: string;
  return_id: string;
  product_id: string;
  quantity: number;
  create_time: Generated<Date>;
}

export type ImageSlotName = "PRODUCT_GALLERY" | "SHOP_LOGO" | "SHOP_COVER";
export type UploadStatus = "PENDING" | "CONFIRMED" | "REJECTED" | "EXPIRED";
export type ImageStatusName = "PROCESSING" | "READY" | "FAILED" | "DELETED";

/** A presigned upload: handed out, then confirmed into an image, refused, or left to expire. */
export interface MediaUploadsTable {
  id: string;
  slot: ImageSlotName;
  owner_id: string;
  uploader_id: string;
  content_type: string;
  size_bytes: ColumnType<string, number, number>;
  alt_text: string;
  status: UploadStatus;
  image_id: string | null;
  expire_time: Date;
  object_removed: Generated<number>;
  create_time: Generated<Date>;
}

/** One stored rendition of an image, as the renditions JSON column holds it. */
export interface StoredRendition {
  name: string;
  file: string;
  contentType: string;
  width: number;
  height: number;
  sizeBytes: number;
}

export interface ImagesTable {
  id: string;
  slot: ImageSlotName;
  owner_id: string;
  upload_id: string;
  position: number;
  alt_text: string;
  status: ImageStatusName;
  content_type: string;
  width: number;
  height: number;
  placeholder: Generated<string>;
  renditions: ColumnType<unknown, string, string>;
  create_time: Generated<Date>;
  update_time: Generated<Date>;
}

export interface ProductDatabase extends EventTables {
  categories: CategoriesTable;
  shops: ShopsTable;
  products: ProductsTable;
  reservations: ReservationsTable;
  reservation_items: ReservationItemsTable;
  reservation_returns: ReservationReturnsTable;
  media_uploads: MediaUploadsTable;
  images: ImagesTable;
}

export type CategoryRow = Selectable<CategoriesTable>;
export type NewCategoryRow = Insertable<CategoriesTable>;
export type ShopRow = Selectable<ShopsTable>;
export type NewShopRow = Insertable<ShopsTable>;
export type ProductRow = Selectable<ProductsTable>;
export type NewProductRow = Insertable<ProductsTable>;
export type MediaUploadRow = Selectable<MediaUploadsTable>;
export type ImageRow = Selectable<ImagesTable>;
