// NotificationService (the caller's own inbox) and AccountMailService (auth's account mails):
// proto ↔ domain. Every inbox RPC reads the caller's id from the verified token; a request never
// names a user, so another user's notifications are out of reach by construction.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import {
  AccountMailKind,
  type AccountMailService,
  NotificationChannel,
  NotificationKind,
  type NotificationPreferenceSchema,
  type NotificationSchema,
  type NotificationService,
} from "../../gen/bazaar/notification/v1/notification_pb.ts";
import { callerOf } from "../kit/auth.ts";
import { reasonedError } from "../kit/error-info.ts";
import { cursorField, pageSizeOf, pageTokenCodec } from "../kit/pages.ts";
import type { NotificationDatabase, NotificationRow } from "./db/database.ts";
import {
  listNotifications,
  markRead,
  positionBefore,
  preferencesOf,
  savePreferences,
  unreadCount,
} from "./db/notification.repository.ts";
import { enqueueMail } from "./email/outbox.ts";
import { followNotifications, type FeedDeps } from "./domain/feed.ts";
import { channels, hasSlot, isRequired, kinds, preferenceSlots, type Channel, type Kind } from "./domain/kinds.ts";

export interface NotificationDeps {
  db: Kysely<NotificationDatabase>;
  feed: FeedDeps;
}

const pageTokens = pageTokenCodec({ seq: cursorField.bigint("s"), unread: cursorField.text("u") });
const longestReplayMs = 7 * 24 * 3600 * 1000;

const kindToProto = (kind: Kind) => NotificationKind[kind];
const kindFromProto = (kind: NotificationKind): Kind | undefined => kinds.find((k) => NotificationKind[k] === kind);
const channelToProto = (channel: Channel) => NotificationChannel[channel];
const channelFromProto = (channel: NotificationChannel): Channel | undefined =>
  channels.find((c) => NotificationChannel[c] === channel);

export function createNotificationService(deps: NotificationDeps): ServiceImpl<typeof NotificationService> {
  const { db } = deps;
  return {
    async listNotifications(request, ctx) {
      const userId = callerOf(ctx).id;
      const unread = request.unreadOnly ? "1" : "0";
      const cursor = request.pageToken ? pageTokens.decode(request.pageToken, { unread }) : undefined;
      const size = pageSizeOf(request.pageSize);
      // Read before the page: one made meanwhile is in the page, in the watch, or both.
      const position = await positionBefore(db, userId);
      const rows = await listNotifications(db, userId, {
        unreadOnly: request.unreadOnly,
        beforeSeq: cursor && Number(cursor.seq),
        limit: size + 1,
      });
      const page = rows.slice(0, size);
      const last = page.at(-1);
      return {
        notifications: page.map(notificationToProto),
        nextPageToken: rows.length > size && last ? pageTokens.encode({ seq: BigInt(last.seq), unread }) : "",
        resumeToken: encodeResumeToken(position),
      };
    },

    async markNotificationsRead(request, ctx) {
      // Ids of other users' notifications match nothing: the update is scoped to the caller.
      const markedCount = await markRead(db, callerOf(ctx).id, request.all ? "all" : request.ids);
      return { markedCount };
    },

    async getUnreadCount(_request, ctx) {
      return { unreadCount: await unreadCount(db, callerOf(ctx).id) };
    },

    async *watchNotifications(request, ctx) {
      const userId = callerOf(ctx).id;
      let after: number;
      if (request.resumeToken) {
        after = decodeResumeToken(request.resumeToken);
      } else if (request.sinceTime) {
        const since = timestampDate(request.sinceTime);
        if (Date.now() - since.getTime() > longestReplayMs)
          throw new ConnectError("since_time: at most 7 days back", Code.InvalidArgument);
        after = await positionBefore(db, userId, since);
      } else {
        after = await positionBefore(db, userId);
      }
      for await (const row of followNotifications(deps.feed, userId, after, ctx.signal)) {
        yield { notification: notificationToProto(row), resumeToken: encodeResumeToken(Number(row.seq)) };
      }
    },

    async getNotificationPreferences(_request, ctx) {
      return { preferences: await currentPreferences(db, callerOf(ctx).id) };
    },

    async updateNotificationPreferences(request, ctx) {
      const userId = callerOf(ctx).id;
      const entries: Array<{ kind: Kind; channel: Channel; enabled: boolean }> = [];
      for (const [index, p] of request.preferences.entries()) {
        const kind = kindFromProto(p.kind);
        const channel = channelFromProto(p.channel);
        if (!kind || !channel || !hasSlot(kind, channel)) {
          throw new ConnectError(
            `preferences[${index}]: kind ${p.kind} has no channel ${p.channel}`,
            Code.InvalidArgument,
          );
        }
        if (!p.enabled && isRequired(kind, channel)) {
          throw reasonedError(
            "NOTIFICATION_PREFERENCE_REQUIRED",
            `preferences[${index}]: ${kind} e-mails cannot be switched off`,
            { kind: `NOTIFICATION_KIND_${kind}`, channel: `NOTIFICATION_CHANNEL_${channel}` },
          );
        }
        entries.push({ kind, channel, enabled: p.enabled });
      }
      await savePreferences(db, userId, entries);
      return { preferences: await currentPreferences(db, userId) };
    },
  };
}

export function createAccountMailService(deps: {
  db: Kysely<NotificationDatabase>;
}): ServiceImpl<typeof AccountMailService> {
  return {
    async sendAccountMail(request) {
      const template =
        request.kind === AccountMailKind.PASSWORD_RESET
          ? "password-reset"
          : request.kind === AccountMailKind.EMAIL_VERIFICATION
            ? "email-verification"
            : undefined;
      if (!template) throw new ConnectError("kind: must be set", Code.InvalidArgument);
      if (!request.idempotencyKey) throw new ConnectError("idempotency_key: must be set", Code.InvalidArgument);
      if (!request.email) throw new ConnectError("email: must be set", Code.InvalidArgument);
      if (!/^https?:\/\//.test(request.link))
        throw new ConnectError("link: must be an http(s) URL", Code.InvalidArgument);
      // The link holds a secret token: it goes into the outbox only, never into a log line.
      await deps.db.transaction().execute((trx) =>
        enqueueMail(trx, {
          idempotencyKey: `account:${request.idempotencyKey}`,
          to: request.email,
          template,
          data: {
            userId: request.userId,
            displayName: request.displayName,
            link: request.link,
            expireTime: request.expireTime ? timestampDate(request.expireTime).toISOString() : "",
          },
        }),
      );
      return {};
    },
  };
}

async function currentPreferences(
  db: Kysely<NotificationDatabase>,
  userId: string,
): Promise<Array<MessageInitShape<typeof NotificationPreferenceSchema>>> {
  const saved = await preferencesOf(db, userId);
  return preferenceSlots().map(({ kind, channel }) => {
    const required = isRequired(kind, channel);
    const enabled = required || (saved.find((s) => s.kind === kind && s.channel === channel)?.enabled ?? true);
    return { kind: kindToProto(kind), channel: channelToProto(channel), enabled, required };
  });
}

function notificationToProto(row: NotificationRow): MessageInitShape<typeof NotificationSchema> {
  return {
    id: row.id,
    kind: kindToProto(row.kind),
    title: row.title,
    body: row.body,
    link: row.link,
    createTime: timestampFromDate(row.create_time),
    readTime: row.read_time ? timestampFromDate(row.read_time) : undefined,
  };
}

function encodeResumeToken(seq: number): string {
  return Buffer.from(`inbox:${seq}`).toString("base64url");
}

function decodeResumeToken(token: string): number {
  const match = /^inbox:(\d{1,15})$/.exec(Buffer.from(token, "base64url").toString());
  if (!match) throw new ConnectError("resume_token: not a token from WatchNotifications", Code.InvalidArgument);
  return Number(match[1]);
}
