// Every migration of the auth database, in order. Add new ones at the end.
import type { Migration } from "kysely/migration";
import * as createEventTables from "../../../kit/migrations/2026_11_23_000000_create_event_tables.ts";
import * as createDeadLetters from "../../../kit/migrations/2026_11_24_000000_create_dead_letters.ts";
import * as createJobLeases from "../../../kit/migrations/2026_11_25_000000_create_job_leases.ts";
import * as createUsers from "./2026_11_23_100000_create_users.ts";
import * as createSessions from "./2026_11_23_110000_create_sessions.ts";
import * as createAuthRecoveryTokens from "./2026_12_04_170000_create_auth_recovery_tokens.ts";
import * as addEmailVerified from "./2026_12_04_170100_add_auth_recovery_email_verified.ts";

export const migrations: Record<string, Migration> = {
  "2026_11_23_000000_create_event_tables": createEventTables,
  "2026_11_23_100000_create_users": createUsers,
  "2026_11_23_110000_create_sessions": createSessions,
  "2026_11_24_000000_create_dead_letters": createDeadLetters,
  "2026_11_25_000000_create_job_leases": createJobLeases,
  "2026_12_04_170000_create_auth_recovery_tokens": createAuthRecoveryTokens,
  "2026_12_04_170100_add_auth_recovery_email_verified": addEmailVerified,
};
