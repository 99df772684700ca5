// One NATS connection per process, with JetStream handles and the event stream ensured.
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { ensureStream } from "./events.ts";

export interface NatsHandles {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
}

/** Server and credentials from a nats://user:password@host:port URL. */
export function natsConnectOptions(url: string): { servers: string; user?: string; pass?: string } {
  const parsed = new URL(url);
  return {
    servers: `${parsed.hostname}:${parsed.port || 4222}`,
    user: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    pass: parsed.password ? decodeURIComponent(parsed.password) : undefined,
  };
}

export async function connectNats(url: string, name: string): Promise<NatsHandles> {
  const nc = await connect({
    ...natsConnectOptions(url),
    name,
    // Keep trying for ever: a broker restart must not take the service down with it.
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
  });
  const jsm = await jetstreamManager(nc);
  await ensureStream(jsm);
  return { nc, js: jetstream(nc), jsm };
}
