// LOCAL DEV: the dev accounts as recipients, when BAZAAR_DEMO_SEED=1. Auth seeds them straight
// into its table, so no UserRegistered tells this service their addresses; without this the dev
// seller (who owns the demo catalog) would never get a new-order mail in maildev.
import type { Kysely } from "kysely";
import { devAccounts } from "../../kit/dev-accounts.ts";
import type { NotificationDatabase } from "./database.ts";
import { addMissingRecipients } from "./notification.repository.ts";

export async function seedDevRecipients(db: Kysely<NotificationDatabase>): Promise<number> {
  return addMissingRecipients(
    db,
    (Object.keys(devAccounts) as Array<keyof typeof devAccounts>).map((role) => ({
      userId: devAccounts[role].id,
      email: devAccounts[role].email,
      displayName: devAccounts[role].displayName,
      role,
    })),
  );
}
