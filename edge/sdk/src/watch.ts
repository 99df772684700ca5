// Following a resumable server stream (OrderService.WatchOrders, ShopOrderService.WatchShopOrders,
// NotificationService.WatchNotifications) for as long as the app wants: every update carries a
// resume_token, and after a break the next watch starts after the last update received, so
// nothing is missed or seen twice. Start from a list's resume_token (ListOrders and the like
// return one) to miss nothing committed between the list and the watch.
import { Code, ConnectError } from "@connectrpc/connect";
import { sleep } from "./sleep.ts";

export interface ResumableUpdate {
  resumeToken: string;
}

export interface FollowOptions {
  /** Where to start: a list's or an earlier update's resume_token. Empty: the stream's default. */
  resumeToken?: string;
  /** Ends the watch: the loop over it then ends without an error. */
  signal?: AbortSignal;
  /** Wait before the first reconnect; doubled after each break without an update. 1 s by default. */
  reconnectDelayMs?: number;
  /** Longest wait between reconnects; 30 s by default. */
  maxReconnectDelayMs?: number;
  /** Told of each break (undefined when the server ended the stream) before waiting to reconnect. */
  onBreak?: (error: ConnectError | undefined, reconnectInMs: number) => void;
}

/**
 * A break that another watch cannot mend: the request is wrong, the caller may not watch this,
 * or must sign in again. These end the loop with the error; anything else is reconnected.
 */
const permanentCodes: ReadonlySet<Code> = new Set([
  Code.InvalidArgument,
  Code.NotFound,
  Code.PermissionDenied,
  Code.Unauthenticated,
  Code.FailedPrecondition,
  Code.OutOfRange,
  Code.Unimplemented,
]);

/**
 * The updates of `open(resumeToken, signal)`, watched again after every break from the last
 * resume_token. Leaving the loop (break, return, throw) or aborting `signal` ends the stream.
 *
 *   for await (const { order } of followStream((resumeToken, signal) =>
 *     bazaar.orders.watchOrders({ resumeToken }, { signal }), { resumeToken: list.resumeToken })) { … }
 */
export async function* followStream<U extends ResumableUpdate>(
  open: (resumeToken: string, signal: AbortSignal) => AsyncIterable<U>,
  options: FollowOptions = {},
): AsyncGenerator<U, void, undefined> {
  const firstDelayMs = options.reconnectDelayMs ?? 1_000;
  const maxDelayMs = Math.max(firstDelayMs, options.maxReconnectDelayMs ?? 30_000);
  let resumeToken = options.resumeToken ?? "";
  let delayMs = firstDelayMs;
  const stop = new AbortController();
  const outer = options.signal;
  const onAbort = () => stop.abort(outer?.reason);
  outer?.addEventListener("abort", onAbort, { once: true });
  try {
    while (!stop.signal.aborted) {
      let broke: ConnectError | undefined;
      try {
        for await (const update of open(resumeToken, stop.signal)) {
          if (stop.signal.aborted) return;
          resumeToken = update.resumeToken || resumeToken;
          delayMs = firstDelayMs;
          yield update;
          // Aborted while the app handled the update: the stream may not have noticed yet.
          if (stop.signal.aborted) return;
        }
      } catch (error) {
        if (stop.signal.aborted) return;
        broke = ConnectError.from(error);
        if (permanentCodes.has(broke.code)) throw broke;
      }
      options.onBreak?.(broke, delayMs);
      await sleep(delayMs, stop.signal);
      delayMs = Math.min(maxDelayMs, delayMs * 2);
    }
  } finally {
    outer?.removeEventListener("abort", onAbort);
    // Ends the stream still open when the loop over this one was left early.
    stop.abort();
  }
}
