// One NATS connection per process, with JetStream handles and the event stream ensured.
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { ensureStream } from "./events.ts";

export interface NatsHandles {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
}

export async function connectNats(url: string, name: string): Promise<NatsHandles> {
  const parsed = new URL(url);
  const nc = await connect({
    servers: `${parsed.hostname}:${parsed.port || 4222}`,
    name,
    user: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    pass: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    // Keep trying for ever: a broker restart must not take the service down with it.
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
  });
  const jsm = await jetstreamManager(nc);
  await ensureStream(jsm);
  return { nc, js: jetstream(nc), jsm };
}
