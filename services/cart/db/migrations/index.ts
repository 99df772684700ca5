// Every migration of the cart database, in order. Add new ones at the end.
import type { Migration } from "kysely/migration";
import * as createEventTables from "../../../kit/migrations/2026_11_23_000000_create_event_tables.ts";
import * as createDeadLetters from "../../../kit/migrations/2026_11_24_000000_create_dead_letters.ts";
import * as createJobLeases from "../../../kit/migrations/2026_11_25_000000_create_job_leases.ts";
import * as createCarts from "./2026_11_23_100000_create_carts.ts";
import * as addSnapshotShop from "./2026_12_04_100000_add_snapshot_shop.ts";
import * as addSnapshotImage from "./2026_12_04_220000_add_snapshot_image.ts";

export const migrations: Record<string, Migration> = {
  "2026_11_23_000000_create_event_tables": createEventTables,
  "2026_11_23_100000_create_carts": createCarts,
  "2026_11_24_000000_create_dead_letters": createDeadLetters,
  "2026_11_25_000000_create_job_leases": createJobLeases,
  "2026_12_04_100000_add_snapshot_shop": addSnapshotShop,
  "2026_12_04_220000_add_snapshot_image": addSnapshotImage,
};
