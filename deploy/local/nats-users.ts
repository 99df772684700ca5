// NATS users of a local Bazaar: one per service, allowed to publish events only under its own
// subjects (bazaar.<service>.>); the edge, which only reads events (its cache and deny list);
// and an operator user for tools and tests. Anonymous
// connections are refused. The passwords are LOCAL-DEV DEFAULTS ONLY, for servers bound to
// 127.0.0.1; production gives each service its own secret in BAZAAR_<SERVICE>_NATS_URL.
import { defaultPorts } from "../../services/kit/config.ts";

const serviceNames = Object.keys(defaultPorts);

export const operatorUser = { user: "bazaar", password: "local-dev-only-nats-operator" };

export function servicePassword(service: string): string {
  return `local-dev-only-nats-${service}`;
}

/** The nats-server `authorization` block. */
export function natsAuthorization(): string {
  const services = serviceNames.map(
    (service) => `    {
      user: "${service}"
      password: "${servicePassword(service)}"
      permissions: {
        # Its own events; the JetStream API (streams, consumers, acks); replies to its requests.
        publish: { allow: ["bazaar.${service}.>", "$JS.API.>", "$JS.ACK.>", "_INBOX.>"] }
        subscribe: { allow: [">"] }
      }
    }`,
  );
  const edge = `    {
      user: "edge"
      password: "${servicePassword("edge")}"
      permissions: {
        # No events of its own: the JetStream API (its ordered consumers) and replies only.
        publish: { allow: ["$JS.API.>", "_INBOX.>"] }
        subscribe: { allow: [">"] }
      }
    }`;
  return `authorization {
  users: [
    { user: "${operatorUser.user}", password: "${operatorUser.password}" }
${services.join("\n")}
${edge}
  ]
}
`;
}

/** A URL (or a comma-separated list of a cluster's URLs) with credentials. */
export function withCredentials(url: string, user: string, password: string): string {
  return url
    .split(",")
    .map((item) => {
      const parsed = new URL(item);
      parsed.username = encodeURIComponent(user);
      parsed.password = encodeURIComponent(password);
      return parsed.toString().replace(/\/$/, "");
    })
    .join(",");
}

/** BAZAAR_<SERVICE>_NATS_URL for every service and the edge: each connects as itself. */
export function serviceNatsEnv(natsUrl: string): Record<string, string> {
  return Object.fromEntries(
    [...serviceNames, "edge"].map((name) => [
      `BAZAAR_${name.toUpperCase()}_NATS_URL`,
      withCredentials(natsUrl, name, servicePassword(name)),
    ]),
  );
}
