// The auth service's database, typed once.
import type { Generated, Insertable, Selectable } from "kysely";
import type { EventTables } from "../../kit/events.ts";

export interface UsersTable {
  id: string;
  email: string;
  password_hash: string;
  display_name: string;
  phone: Generated<string>;
  role: "CUSTOMER" | "SELLER" | "ADMIN";
  active: Generated<number>;
  create_time: Generated<Date>;
  update_time: Generated<Date>;
  last_login_time: Date | null;
}

export interface AuthDatabase extends EventTables {
  users: UsersTable;
}

export type UserRow = Selectable<UsersTable>;
export type NewUserRow = Insertable<UsersTable>;
