/// <reference lib="dom" />
// The notification bell of every signed-in user: the unread count, live, and a panel with the
// notifications newest first (ListNotifications, "Older notifications" for the next page), each
// linking to the order it is about, and "Mark all read". WatchNotifications keeps both live
// (live.ts: resumed after the last notification when the stream breaks).
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { Notification } from "../../gen/bazaar/notification/v1/notification_pb.ts";
import type { BazaarClients } from "../sdk/src/index.ts";
import { element, fromTemplate, part, rowById, setText } from "./dom.ts";
import { action, showError } from "./errors.ts";
import { followLive } from "./live.ts";

export interface BellSession {
  /** The SDK's client, signed in. */
  notifications: BazaarClients["notifications"];
  /** Aborted when the session ends. */
  ended: AbortSignal;
}

const page = {
  bell: element<HTMLButtonElement>("bell"),
  count: element("bell-count"),
  panel: element("notifications"),
  list: element<HTMLUListElement>("notification-list"),
  empty: element("notifications-empty"),
  more: element<HTMLButtonElement>("more-notifications"),
  markAll: element<HTMLButtonElement>("mark-all-read"),
};

interface Bell {
  notifications: BazaarClients["notifications"];
  ended: AbortSignal;
  nextPageToken: string;
  /** A count read is under way; `countAgain` asks for one more after it. */
  counting: boolean;
  countAgain: boolean;
}

let bell: Bell | undefined;

export async function openBell(session: BellSession): Promise<void> {
  const current: Bell = {
    notifications: session.notifications,
    ended: session.ended,
    nextPageToken: "",
    counting: false,
    countAgain: false,
  };
  bell = current;
  showCount(0);
  page.bell.onclick = () => showPanel(page.bell.getAttribute("aria-expanded") !== "true");
  page.panel.onkeydown = (event) => {
    if (event.key !== "Escape") return;
    showPanel(false);
    page.bell.focus();
  };
  page.list.onclick = (event) => {
    // Following a link to an order of this page: the panel gives way to it.
    if ((event.target as HTMLElement).closest("a[href^='#']")) showPanel(false);
  };
  page.markAll.onclick = action(() => markAllRead(current));
  page.more.onclick = action(async () => {
    await listPage(current);
  });
  const resumeToken = await listPage(current);
  if (resumeToken === undefined) return;
  // The count is read after the list's token, the watch starts from it, and each notification it
  // brings reads the count again (below): the count shown is always one the service gave.
  refreshCount(current);
  void followLive(
    {
      name: "Live notifications",
      watch: (resumeToken, signal) => current.notifications.watchNotifications({ resumeToken }, { signal }),
      show: (update) => {
        renderNotification(update.notification!);
        refreshCount(current);
      },
      state: (text) => (page.bell.dataset.live = text === "live" ? "live" : "reconnecting"),
    },
    session.ended,
    { resumeToken },
  );
}

export function closeBell(): void {
  bell = undefined;
  showPanel(false);
  showCount(0);
  page.bell.onclick = null;
  page.markAll.onclick = null;
  page.more.onclick = null;
  page.more.hidden = true;
  page.list.replaceChildren();
  page.empty.hidden = false;
  delete page.bell.dataset.live;
}

function showPanel(open: boolean): void {
  page.panel.hidden = !open;
  page.bell.setAttribute("aria-expanded", String(open));
}

/** The bell says the count to screen readers too: its name is "Notifications, 3 unread". */
function showCount(unread: number): void {
  page.bell.dataset.unread = String(unread);
  page.bell.setAttribute("aria-label", `Notifications, ${unread} unread`);
  setText(page.count, unread > 0 ? String(unread) : "");
  page.count.hidden = unread === 0;
}

/**
 * Reads the unread count again. A burst of notifications (a resumed watch replays what it
 * missed) costs two reads, not one per notification: one read at a time, and one more after it
 * when any was asked for meanwhile.
 */
function refreshCount(current: Bell): void {
  if (current.counting) {
    current.countAgain = true;
    return;
  }
  current.counting = true;
  (async () => {
    do {
      current.countAgain = false;
      const { unreadCount } = await current.notifications.getUnreadCount({}, { signal: current.ended });
      if (current !== bell) return;
      showCount(unreadCount);
    } while (current.countAgain);
  })()
    .catch((error: unknown) => {
      if (current === bell) showError(error);
    })
    .finally(() => (current.counting = false));
}

/** The next older page of the list: the first when the session starts. */
/** Shows the next page; answers its resume token (undefined once the bell is closed). */
async function listPage(current: Bell): Promise<string | undefined> {
  const found = await current.notifications.listNotifications(
    { pageSize: 20, pageToken: current.nextPageToken },
    { signal: current.ended },
  );
  if (current !== bell) return undefined;
  found.notifications.forEach(renderNotification);
  current.nextPageToken = found.nextPageToken;
  page.more.hidden = !found.nextPageToken;
  return found.resumeToken;
}

async function markAllRead(current: Bell): Promise<void> {
  await current.notifications.markNotificationsRead({ all: true }, { signal: current.ended });
  if (current !== bell) return;
  for (const row of page.list.children) (row as HTMLElement).dataset.read = "true";
  showCount(0);
  // One may have arrived since: the service's count has the last word.
  refreshCount(current);
}

/** Shows a notification in the list, newest first (its id is a UUIDv7), once. */
function renderNotification(notification: Notification): void {
  const row = rowById(page.list, "notificationId", notification.id, () => notificationRow(notification));
  // A row read here stays read: a snapshot from before "Mark all read" arriving late changes nothing.
  if (row.dataset.read !== "true") row.dataset.read = String(notification.readTime !== undefined);
  page.empty.hidden = true;
}

function notificationRow(notification: Notification): HTMLLIElement {
  const row = fromTemplate<HTMLLIElement>("notification-template");
  const title = part<HTMLAnchorElement>(row, ".title");
  title.textContent = notification.title;
  const target = linkTarget(notification.link);
  if (target) {
    title.href = target;
    if (target.startsWith("https://")) {
      title.rel = "noopener noreferrer";
      title.target = "_blank";
    }
  }
  part(row, ".body").textContent = notification.body;
  const shown = part<HTMLTimeElement>(row, "time");
  if (notification.createTime) {
    const at = timestampDate(notification.createTime);
    shown.dateTime = at.toISOString();
    shown.textContent = at.toLocaleString();
  }
  return row;
}

/**
 * Where a notification's link leads in this page. The service links storefront paths
 * (`/orders/<id>`, `/seller/orders/<id>`) or a carrier's https tracking page; this page has one
 * address and shows an order at `#order-<id>` (a link may say `/#order-<id>` itself), the
 * seller's orders at `#seller`. Anything else is shown as text only.
 */
export function linkTarget(link: string): string | undefined {
  const order = /^\/(?:orders\/|#order-)([0-9a-f-]{36})$/.exec(link);
  if (order) return `#order-${order[1]}`;
  if (/^\/seller\/orders\/[0-9a-f-]{36}$/.test(link)) return "#seller";
  if (link.startsWith("https://")) return link;
  return undefined;
}
