// Every migration of the admin database, in order. Add new ones at the end.
import type { Migration } from "kysely/migration";
import * as createEventTables from "../../../kit/migrations/2026_11_23_000000_create_event_tables.ts";
import * as createDeadLetters from "../../../kit/migrations/2026_11_24_000000_create_dead_letters.ts";
import * as createJobLeases from "../../../kit/migrations/2026_11_25_000000_create_job_leases.ts";
import * as createProjections from "./2026_11_23_100000_create_projections.ts";
import * as createErasedUsers from "./2026_12_04_130000_create_erased_users_for_erase_user.ts";
import * as createShopSales from "./2026_12_04_131500_create_shop_sales.ts";
import * as createAuditedRefunds from "./2026_12_04_152000_create_audited_refunds_for_admin_payments.ts";

export const migrations: Record<string, Migration> = {
  "2026_11_23_000000_create_event_tables": createEventTables,
  "2026_11_23_100000_create_projections": createProjections,
  "2026_11_24_000000_create_dead_letters": createDeadLetters,
  "2026_11_25_000000_create_job_leases": createJobLeases,
  "2026_12_04_130000_create_erased_users_for_erase_user": createErasedUsers,
  "2026_12_04_131500_create_shop_sales": createShopSales,
  "2026_12_04_152000_create_audited_refunds_for_admin_payments": createAuditedRefunds,
};
