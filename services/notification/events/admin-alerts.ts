// Operational alerts for admins: every service announces the events its consumers gave up on
// (bazaar.<service>.event_dead_lettered, written with the dead letter by the kit's consumer), and
// each active admin is told which consumer gave up on what, and why, in the inbox and by mail.
import type { Transaction } from "kysely";
import type { Event } from "../../../gen/bazaar/events/v1/events_pb.ts";
import type { FeedSignals } from "../../kit/feed-signals.ts";
import type { NotificationDatabase } from "../db/database.ts";
import { activeAdmins } from "../db/notification.repository.ts";
import { deliver, knowRecipients } from "../domain/deliver.ts";

export const adminAlertsConsumer = {
  name: "notification-admin-alerts",
  filterSubject: "bazaar.*.event_dead_lettered",
};

export function alertAdmins(signals: FeedSignals) {
  return async (event: Event, trx: Transaction<NotificationDatabase>): Promise<void> => {
    if (event.payload.case !== "eventDeadLettered") return;
    const letter = event.payload.value;
    const what = letter.eventId ? `event ${letter.eventId}` : "an undecodable message";
    const body =
      `${letter.consumer} (${event.source}) gave up on ${what} from ${letter.subject} after ` +
      `${letter.attempts} ${letter.attempts === 1 ? "attempt" : "attempts"}: ${letter.error}`;
    const admins = await activeAdmins(trx);
    await knowRecipients(
      trx,
      admins.map((admin) => admin.user_id),
    );
    for (const admin of admins) {
      await deliver(trx, signals, {
        userId: admin.user_id,
        kind: "ADMIN_ALERT",
        title: `Dead letter in ${letter.consumer}`,
        body,
        link: `/admin/dead-letters?service=${encodeURIComponent(event.source)}`,
        idempotencyKey: `${event.id}:${admin.user_id}`,
      });
    }
  };
}
