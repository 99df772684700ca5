// The e-mail outbox's table, as the notification database holds it.
import type { ColumnType, Generated } from "kysely";

export type MailStatus = "PENDING" | "SENT" | "DEAD";

export interface EmailOutboxTable {
  id: string;
  idempotency_key: string;
  to_address: string;
  template: string;
  data: ColumnType<unknown, string, string>;
  status: ColumnType<MailStatus, MailStatus | undefined, MailStatus>;
  attempts: Generated<number>;
  next_attempt_at: ColumnType<Date, Date | undefined, Date | string>;
  lease_holder: Generated<string>;
  lease_until: ColumnType<Date | null, Date | null | undefined, Date | null | string>;
  last_error: Generated<string>;
  sent_at: ColumnType<Date | null, never, Date | null>;
  message_id: Generated<string>;
  create_time: ColumnType<Date, never, never>;
}

export interface EmailTables {
  email_outbox: EmailOutboxTable;
}
