/// <reference lib="dom" />
// One way to follow a resumable server stream (WatchOrders, WatchShopOrders,
// WatchNotifications) for as long as a signal allows. It starts from the token of the list the
// page showed first (read before that list), so nothing committed between the list and the watch
// is missed; every update carries a resume token, and after a broken stream the next watch starts
// after the last update received, so nothing is missed or shown twice. The page says "live" or "reconnecting…" and why it reconnects.
import { messageOf, showError } from "./errors.ts";
import { sleep } from "./dom.ts";

export interface LiveFeed<U extends { resumeToken: string }> {
  /** Opens the stream after `resumeToken`. */
  watch(resumeToken: string, signal: AbortSignal): AsyncIterable<U>;
  show(update: U): void;
  /** Told "live" when a watch is opened and "reconnecting…" when it broke. */
  state(text: "live" | "reconnecting…"): void;
  /** What the page says was interrupted: "Live order updates". */
  name: string;
}

/** Reconnecting at once after a break would hammer a restarting service. */
const reconnectDelayMs = 2_000;

/** Follows `feed` from `resumeToken`: a list's token, so nothing after the list is missed. */
export async function followLive<U extends { resumeToken: string }>(
  feed: LiveFeed<U>,
  signal: AbortSignal,
  from: { resumeToken: string },
): Promise<void> {
  let { resumeToken } = from;
  while (!signal.aborted) {
    feed.state("live");
    try {
      for await (const update of feed.watch(resumeToken, signal)) {
        // An update that was on its way when the signal fired belongs to a view no longer shown.
        if (signal.aborted) return;
        feed.show(update);
        resumeToken = update.resumeToken;
      }
    } catch (error) {
      if (signal.aborted) return;
      showError(new Error(`${feed.name} were interrupted (${messageOf(error)}); reconnecting.`));
    }
    if (signal.aborted) return;
    feed.state("reconnecting…");
    await sleep(reconnectDelayMs, signal);
  }
}
