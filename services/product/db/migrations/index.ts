// Every migration of the product database, in order. Add new ones at the end.
import type { Migration } from "kysely/migration";
import * as createEventTables from "../../../kit/migrations/2026_11_23_000000_create_event_tables.ts";
import * as createDeadLetters from "../../../kit/migrations/2026_11_24_000000_create_dead_letters.ts";
import * as createJobLeases from "../../../kit/migrations/2026_11_25_000000_create_job_leases.ts";
import * as createCatalog from "./2026_11_23_100000_create_catalog.ts";
import * as createReservations from "./2026_11_23_110000_create_reservations.ts";
import * as addShopSuspension from "./2026_12_04_100000_add_shop_suspension.ts";
import * as addReservationReturns from "./2026_12_04_131700_add_reservation_returns_shop_order_cancel.ts";
import * as createMedia from "./2026_12_04_220000_create_media.ts";

export const migrations: Record<string, Migration> = {
  "2026_11_23_000000_create_event_tables": createEventTables,
  "2026_11_23_100000_create_catalog": createCatalog,
  "2026_11_23_110000_create_reservations": createReservations,
  "2026_11_24_000000_create_dead_letters": createDeadLetters,
  "2026_11_25_000000_create_job_leases": createJobLeases,
  "2026_12_04_100000_add_shop_suspension": addShopSuspension,
  "2026_12_04_131700_add_reservation_returns_shop_order_cancel": addReservationReturns,
  "2026_12_04_220000_create_media": createMedia,
};
