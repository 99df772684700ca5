// The cart service's database, typed once.
import type { ColumnType, Generated, Selectable } from "kysely";
import type { EventTables } from "../../kit/events.ts";

export interface CartsTable {
  user_id: string;
  update_time: Generated<Date>;
}

export interface CartLinesTable {
  user_id: string;
  product_id: string;
  quantity: number;
  add_time: Generated<Date>;
}

export interface ProductSnapshotsTable {
  product_id: string;
  name: string;
  // BIGINT arrives as an exact string and is written from a bigint.
  unit_price_minor: ColumnType<string, bigint, bigint>;
  currency_code: string;
  image_url: string;
  /** The main image as bazaar.common.v1.Image proto JSON; empty when the product has none. */
  image: Generated<string>;
  for_sale: number;
  stock_available: number;
  source_time: Date;
  /** Null for snapshots taken before shops were recorded. */
  shop_id: string | null;
}

export interface CartDatabase extends EventTables {
  carts: CartsTable;
  cart_lines: CartLinesTable;
  product_snapshots: ProductSnapshotsTable;
}

export type ProductSnapshotRow = Selectable<ProductSnapshotsTable>;
