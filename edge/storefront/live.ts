/// <reference lib="dom" />
// One way to follow a resumable server stream (WatchOrders, WatchShopOrders,
// WatchNotifications) for as long as a signal allows. It starts from the token of the list the
// page showed first (read before that list), so nothing committed between the list and the watch
// is missed; every update carries a resume token, and after a broken stream the next watch starts
// after the last update received, so nothing is missed or shown twice. The page says "live" or "reconnecting…" and why it reconnects.
import { followStream } from "../sdk/src/index.ts";
import { messageOf, showError } from "./errors.ts";

export interface LiveFeed<U extends { resumeToken: string }> {
  /** Opens the stream after `resumeToken`. */
  watch(resumeToken: string, signal: AbortSignal): AsyncIterable<U>;
  show(update: U): void;
  /** Told "live" when a watch is opened and "reconnecting…" when it broke. */
  state(text: "live" | "reconnecting…"): void;
  /** What the page says was interrupted: "Live order updates". */
  name: string;
}

/** Reconnecting at once after a break would hammer a restarting service; a fixed delay keeps the page's promise of "reconnecting…" short. */
const reconnectDelayMs = 2_000;

/**
 * Follows `feed` from `resumeToken`: a list's token, so nothing after the list is missed. The
 * SDK's followStream watches again after every break from the last update's token; a break no
 * new watch can mend (the session ended, the shop is not the seller's) ends it with the error shown.
 */
export async function followLive<U extends { resumeToken: string }>(
  feed: LiveFeed<U>,
  signal: AbortSignal,
  from: { resumeToken: string },
): Promise<void> {
  const updates = followStream(
    (resumeToken, watching) => {
      feed.state("live");
      return feed.watch(resumeToken, watching);
    },
    {
      resumeToken: from.resumeToken,
      signal,
      reconnectDelayMs,
      maxReconnectDelayMs: reconnectDelayMs,
      onBreak: (error) => {
        if (signal.aborted) return;
        if (error) showError(new Error(`${feed.name} were interrupted (${messageOf(error)}); reconnecting.`));
        feed.state("reconnecting…");
      },
    },
  );
  try {
    for await (const update of updates) {
      // An update that was on its way when the signal fired belongs to a view no longer shown.
      if (signal.aborted) return;
      feed.show(update);
    }
  } catch (error) {
    if (!signal.aborted) showError(new Error(`${feed.name} stopped (${messageOf(error)}).`));
  }
}
