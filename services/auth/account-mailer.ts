// The AccountMailer auth uses in a running mesh: the notification service's internal
// AccountMailService.SendAccountMail, called with auth's own service token.
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Client } from "@connectrpc/connect";
import { AccountMailKind, type AccountMailService } from "../../gen/bazaar/notification/v1/notification_pb.ts";
import type { ServiceTokenSource } from "../kit/identity.ts";
import type { AccountMailer } from "./domain/recovery.ts";

const kinds = {
  "password-reset": AccountMailKind.PASSWORD_RESET,
  "email-verification": AccountMailKind.EMAIL_VERIFICATION,
} as const;

export function notificationAccountMailer(
  client: Client<typeof AccountMailService>,
  serviceToken: ServiceTokenSource,
): AccountMailer {
  return {
    async send(mail) {
      await client.sendAccountMail(
        {
          idempotencyKey: mail.idempotencyKey,
          userId: mail.userId,
          email: mail.email,
          displayName: mail.displayName,
          kind: kinds[mail.kind],
          link: mail.link,
          expireTime: timestampFromDate(mail.expireTime),
        },
        { timeoutMs: 5_000, headers: { authorization: await serviceToken.authorization() } },
      );
    },
  };
}
