// Who may call each RPC of the notification service. The inbox is every signed-in user's own
// (handlers read the caller's id, never a user id from the request); account mails are asked for
// by auth with its service identity only, and the edge does not route them.
import { AccountMailService, NotificationService } from "../../gen/bazaar/notification/v1/notification_pb.ts";
import { accessRules } from "../kit/auth.ts";

export const notificationAccessRules = [
  accessRules(NotificationService, {
    listNotifications: "user",
    markNotificationsRead: "user",
    getUnreadCount: "user",
    watchNotifications: "user",
    getNotificationPreferences: "user",
    updateNotificationPreferences: "user",
  }),
  accessRules(AccountMailService, {
    sendAccountMail: "service",
  }),
];
