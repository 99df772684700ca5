// The edge's listener keeps idle HTTP/1.1 connections longer than clients do, so a client's
// reused connection is never closed under it; a stop cuts idle connections at once and lets a
// request in flight finish.
import http from "node:http";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type HttpServer, listenHttp } from "./server.ts";

let server: HttpServer;

beforeAll(async () => {
  server = await listenHttp("127.0.0.1:0", (_req, res) => res.end("ok"));
});

afterAll(async () => {
  await server?.close();
});

function get(agent: http.Agent): Promise<{ body: string; socket: unknown }> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: "127.0.0.1", port: server.port, path: "/", agent }, (res) => {
      let body = "";
      res.on("data", (chunk) => (body += chunk));
      res.on("end", () => resolve({ body, socket: request.socket }));
    });
    request.on("error", reject);
  });
}

it("when a keep-alive client sends again after Node's 5 s idle window, then the same connection answers", async () => {
  // A client that keeps idle sockets longer than the edge would be reset on reuse at 5 s.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1, timeout: 60_000 });
  try {
    const first = await get(agent);
    await new Promise((resolve) => setTimeout(resolve, 5_500));
    const second = await get(agent);
    expect([first.body, second.body]).toEqual(["ok", "ok"]);
    expect(second.socket).toBe(first.socket);
  } finally {
    agent.destroy();
  }
}, 15_000);

it("when the edge stops, then an idle keep-alive connection is cut at once and a request in flight still gets its answer", async () => {
  let answerSlowly: () => void = () => undefined;
  const stopping = await listenHttp("127.0.0.1:0", (req, res) => {
    if (req.url === "/slow") answerSlowly = () => res.end("late");
    else res.end("ok");
  });
  const idle = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const slow = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const fetchOn = (agent: http.Agent, path: string) =>
    new Promise<string>((resolve, reject) => {
      http
        .get({ host: "127.0.0.1", port: stopping.port, path, agent }, (res) => {
          let body = "";
          res.on("data", (chunk) => (body += chunk));
          res.on("end", () => resolve(body));
        })
        .on("error", reject);
    });
  try {
    expect(await fetchOn(idle, "/")).toBe("ok");
    const late = fetchOn(slow, "/slow");
    await new Promise((resolve) => setTimeout(resolve, 100));
    const startedAt = Date.now();
    const closed = stopping.close();
    await new Promise((resolve) => setTimeout(resolve, 200));
    answerSlowly();
    expect(await late).toBe("late");
    await closed;
    expect(Date.now() - startedAt).toBeLessThan(2_000);
  } finally {
    idle.destroy();
    slow.destroy();
  }
});
