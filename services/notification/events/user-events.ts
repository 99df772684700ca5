// Auth's events → the recipients projection (who can be mailed, and who is an admin), the
// admins' "new sign-up" notification, and erasure of an erased user's inbox.
import type { Transaction } from "kysely";
import { Role } from "../../../gen/bazaar/common/v1/common_pb.ts";
import type { Event } from "../../../gen/bazaar/events/v1/events_pb.ts";
import type { NotificationDatabase } from "../db/database.ts";
import { activeAdmins, eraseRecipient, updateRecipient, upsertRecipient } from "../db/notification.repository.ts";
import { deliver } from "../domain/deliver.ts";
import type { FeedSignals } from "../../kit/feed-signals.ts";

export const userEventsConsumer = { name: "notification-user-events", filterSubject: "bazaar.auth.>" };

const roleName = (role: Role) =>
  role === Role.ADMIN ? "admin" : role === Role.SELLER ? "seller" : role === Role.CUSTOMER ? "customer" : "unknown";

export function followUserEvents(signals: FeedSignals) {
  return async (event: Event, trx: Transaction<NotificationDatabase>): Promise<void> => {
    const { payload } = event;
    switch (payload.case) {
      case "userRegistered": {
        const u = payload.value;
        await upsertRecipient(trx, {
          userId: u.userId,
          email: u.email,
          displayName: u.displayName,
          role: roleName(u.role),
        });
        for (const admin of await activeAdmins(trx)) {
          if (admin.user_id === u.userId) continue;
          await deliver(trx, signals, {
            userId: admin.user_id,
            kind: "NEW_SIGN_UP",
            title: "New sign-up",
            body: `${u.displayName || u.email} signed up as ${roleName(u.role)}.`,
            link: `/admin/users/${u.userId}`,
            subjectUserId: u.userId,
            idempotencyKey: `${event.id}:${admin.user_id}`,
          });
        }
        return;
      }
      case "userRoleChanged":
        await updateRecipient(trx, payload.value.userId, { role: roleName(payload.value.newRole) });
        return;
      case "userActiveChanged":
        await updateRecipient(trx, payload.value.userId, { active: payload.value.active });
        return;
      case "userErased":
        await eraseRecipient(trx, payload.value.userId);
        return;
      default:
        return;
    }
  };
}
