// The auth service's database, typed once.
import type { Generated, Insertable, Selectable } from "kysely";
import type { EventTables } from "../../kit/events.ts";

export type RoleColumn = "CUSTOMER" | "SELLER" | "ADMIN";

export interface UsersTable {
  id: string;
  email: string;
  password_hash: string;
  display_name: string;
  phone: Generated<string>;
  role: RoleColumn;
  active: Generated<number>;
  create_time: Generated<Date>;
  update_time: Generated<Date>;
  last_login_time: Date | null;
  /** When the e-mail was confirmed; null until then (and on rows older than verification). */
  email_verify_time: Generated<Date | null>;
}

export interface SigningKeysTable {
  kid: string;
  private_jwk: string;
  public_jwk: string;
  create_time: Generated<Date>;
}

export interface RefreshTokensTable {
  token_hash: string;
  family_id: string;
  user_id: string;
  create_time: Generated<Date>;
  expire_time: Date;
  family_expire_time: Date;
  use_time: Date | null;
  revoke_time: Date | null;
}

export interface LoginFailuresTable {
  id: Generated<string>;
  email: string;
  client_ip: string;
  create_time: Generated<Date>;
}

export interface AccountTokensTable {
  id: string;
  token_hash: string;
  user_id: string;
  purpose: "password_reset" | "email_verification";
  create_time: Generated<Date>;
  expire_time: Date;
  use_time: Date | null;
}

export interface PasswordResetRequestsTable {
  id: Generated<string>;
  email: string;
  client_ip: string;
  create_time: Generated<Date>;
}

export interface AuthDatabase extends EventTables {
  account_tokens: AccountTokensTable;
  password_reset_requests: PasswordResetRequestsTable;
  users: UsersTable;
  signing_keys: SigningKeysTable;
  refresh_tokens: RefreshTokensTable;
  login_failures: LoginFailuresTable;
}

export type UserRow = Selectable<UsersTable>;
export type NewUserRow = Insertable<UsersTable>;
export type RefreshTokenRow = Selectable<RefreshTokensTable>;
