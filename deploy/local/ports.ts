// Loopback ports for servers started by the launcher and the tests.
import { createServer } from "node:net";

/** A port the kernel just handed out as free on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * A free port below Linux's ephemeral range (32768–60999). A port the kernel hands out for
 * listening can, until our server binds it, become the local port of any outgoing connection;
 * ports below that range are never used so.
 */
export async function freeServicePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (await isPortFree(port)) return port;
  }
  return freePort();
}

/** The first port from `port` upward that is free on 127.0.0.1. */
export async function firstFreePortFrom(port: number): Promise<number> {
  while (!(await isPortFree(port))) port += 1;
  return port;
}

export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}
