// The edge's two reads of the event stream: the catalog's changes, which keep the public cache
// fresh, and deactivations and password resets, which the edge's deny list refuses at once. The
// edge serves without them: until NATS is reached, and whenever the catalog feed breaks, cached
// answers live only the max-age browsers are told, and the services behind still refuse a
// denied token on everything that is not public.
import type { DenyList } from "../services/kit/auth.ts";
import { followEventFeed } from "../services/kit/event-feed.ts";
import { followDeactivations } from "../services/kit/identity.ts";
import type { Logger } from "../services/kit/log.ts";
import { connectNats, type NatsHandles } from "../services/kit/nats.ts";
import { applyCatalogEvent, catalogSubjects } from "./catalog-events.ts";
import type { PublicCache } from "./public-cache.ts";

export interface EdgeFeedOptions {
  natsUrl: string;
  streamReplicas: number;
  cache: PublicCache;
  denyList: DenyList;
  /** How far back the deny list's feed replays: the access tokens' lifetime and a minute. */
  deactivationLookbackMs: number;
  log: Logger;
}

/** Connects in the background, retrying until it succeeds or is stopped. */
export function startEdgeFeeds(options: EdgeFeedOptions): { stop(): Promise<void> } {
  const { log } = options;
  let stopped = false;
  let nats: NatsHandles | undefined;
  const feeds: Array<{ stop(): Promise<void> }> = [];
  const started = (async () => {
    for (let attempt = 1; !stopped; attempt++) {
      try {
        nats = await connectNats(options.natsUrl, "bazaar-edge", options.streamReplicas);
        if (stopped) break;
        feeds.push(
          await followEventFeed({
            js: nats.js,
            filterSubject: catalogSubjects,
            from: "new",
            apply: (event) => applyCatalogEvent(options.cache, event),
            onAttached: (attached) => (options.cache.followed = attached),
            connection: nats.nc,
            name: "catalog feed",
            log,
          }),
        );
        feeds.push(
          await followDeactivations({
            js: nats.js,
            denyList: options.denyList,
            lookbackMs: options.deactivationLookbackMs,
            log,
          }),
        );
        log.info("following the catalog's events and deactivations");
        return;
      } catch (error) {
        await Promise.all(feeds.splice(0).map((feed) => feed.stop()));
        await nats?.nc.close().catch(() => undefined);
        nats = undefined;
        if (stopped) return;
        if (attempt === 1 || attempt % 30 === 0)
          log.warn({ err: error, attempt }, "event stream unreachable; retrying");
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    }
  })();
  return {
    async stop() {
      stopped = true;
      await started;
      await Promise.all(feeds.map((feed) => feed.stop()));
      options.cache.followed = false;
      await nats?.nc.drain().catch(() => undefined);
    },
  };
}
