// The notification service's database, typed once.
import type { ColumnType, Generated, Selectable } from "kysely";
import type { EventTables } from "../../kit/events.ts";
import type { JobLeaseTables } from "../../kit/job-leases.ts";
import type { EmailTables } from "../email/database.ts";
import type { Channel, Kind } from "../domain/kinds.ts";

export interface RecipientsTable {
  user_id: string;
  email: string;
  display_name: string;
  role: string;
  active: Generated<boolean>;
}

export interface InboxPositionsTable {
  user_id: string;
  last_seq: ColumnType<string, number, number>;
}

export interface NotificationsTable {
  id: string;
  user_id: string;
  seq: ColumnType<string, number, number>;
  kind: Kind;
  title: string;
  body: string;
  link: string;
  subject_user_id: string | null;
  create_time: Generated<Date>;
  read_time: ColumnType<Date | null, never, Date>;
}

export interface PreferencesTable {
  user_id: string;
  kind: Kind;
  channel: Channel;
  enabled: boolean;
}

export interface ProductOwnersTable {
  product_id: string;
  shop_id: string;
  seller_id: string;
  name: string;
  low_stock: Generated<boolean>;
}

/** The buyer of each order, from OrderPlaced (refund events name only the order). */
export interface OrderBuyersTable {
  order_id: string;
  user_id: string;
  create_time: Generated<Date>;
}

export interface NotificationDatabase extends EventTables, JobLeaseTables, EmailTables {
  recipients: RecipientsTable;
  inbox_positions: InboxPositionsTable;
  notifications: NotificationsTable;
  notification_preferences: PreferencesTable;
  product_owners: ProductOwnersTable;
  order_buyers: OrderBuyersTable;
}

export type NotificationRow = Selectable<NotificationsTable>;
export type RecipientRow = Selectable<RecipientsTable>;
