// One NATS connection per process, with JetStream handles and the event stream ensured.
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { ensureStream } from "./events.ts";

export interface NatsHandles {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
}

/**
 * Servers and credentials from one nats://user:password@host:port URL or a comma-separated
 * list of them (a cluster; the client fails over between them). Credentials come from the first
 * URL that has any.
 */
export function natsConnectOptions(url: string): { servers: string[]; user?: string; pass?: string } {
  const parsed = url.split(",").map((item) => new URL(item.trim()));
  const withUser = parsed.find((item) => item.username);
  return {
    servers: parsed.map((item) => `${item.hostname}:${item.port || 4222}`),
    user: withUser ? decodeURIComponent(withUser.username) : undefined,
    pass: withUser ? decodeURIComponent(withUser.password) : undefined,
  };
}

export async function connectNats(url: string, name: string, streamReplicas = 1): Promise<NatsHandles> {
  const nc = await connect({
    ...natsConnectOptions(url),
    name,
    // Keep trying for ever: a broker restart must not take the service down with it.
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
  });
  try {
    // A clustered JetStream without a leader yet fails these; the caller retries the whole connect.
    const jsm = await jetstreamManager(nc);
    await ensureStream(jsm, streamReplicas);
    return { nc, js: jetstream(nc), jsm };
  } catch (error) {
    await nc.close();
    throw error;
  }
}
