// Messages and enums of bazaar.notification.v1 (NotificationService): `@bazaar/sdk/notification`.
// AccountMailService, in the same file, is internal.
export * from "../../../../gen/bazaar/notification/v1/notification_pb.ts";
