// With the edge's default limits, a burst from one address must be refused in every protocol
// the way clients understand a rate limit: resource_exhausted (HTTP 429 for REST and Connect,
// grpc-status 8 for gRPC and gRPC-Web) with a Retry-After — never a 5xx or a dropped request.
import { statusOf } from "./answer-status.ts";
import { envelope } from "./framing.ts";
import type { Exchange, HttpCall, HttpExchanger } from "./exchange.ts";
import { judge } from "./verdict.ts";

const listCategories = "/bazaar.product.v1.ProductService/ListCategories";

interface Probe {
  protocol: string;
  call: Omit<HttpCall, "origin">;
  grpc: boolean;
}

const probes: Probe[] = [
  {
    protocol: "REST",
    grpc: false,
    call: {
      httpVersion: "2",
      method: "GET",
      path: "/v1/categories",
      headers: [],
      body: Buffer.alloc(0),
      streaming: false,
    },
  },
  {
    protocol: "Connect",
    grpc: false,
    call: {
      httpVersion: "2",
      method: "POST",
      path: listCategories,
      headers: [["content-type", "application/json"]],
      body: Buffer.from("{}"),
      streaming: false,
    },
  },
  {
    protocol: "gRPC",
    grpc: true,
    call: {
      httpVersion: "2",
      method: "POST",
      path: listCategories,
      headers: [
        ["content-type", "application/grpc"],
        ["te", "trailers"],
      ],
      body: envelope(0, Buffer.alloc(0)),
      streaming: false,
    },
  },
  {
    protocol: "gRPC-Web",
    grpc: true,
    call: {
      httpVersion: "2",
      method: "POST",
      path: listCategories,
      headers: [
        ["content-type", "application/grpc-web+proto"],
        ["x-grpc-web", "1"],
      ],
      body: envelope(0, Buffer.alloc(0)),
      streaming: false,
    },
  },
];

/**
 * Sends each probe `burst` times at once (h2c streams on one connection), again while none was
 * refused — on a busy machine a burst can be answered so slowly that the bucket refills as fast
 * as it drains — up to `maxWaves` times; returns what was wrong.
 */
export async function checkRateLimitRefusals(
  exchanger: HttpExchanger,
  edgeOrigin: string,
  burst: number,
  answerWithinMs: number,
  maxWaves = 5,
): Promise<string[]> {
  const problems: string[] = [];
  for (const probe of probes) {
    let refused = 0;
    let sent = 0;
    for (let wave = 0; wave < maxWaves && refused === 0; wave++) {
      const exchanges: Exchange[] = await Promise.all(
        Array.from({ length: burst }, () => exchanger.send({ ...probe.call, origin: edgeOrigin })),
      );
      sent += exchanges.length;
      refused += countRefusals(probe, exchanges, answerWithinMs, problems);
    }
    if (refused === 0)
      problems.push(
        `${probe.protocol} burst: none of ${sent} requests from one address was refused under the default limits`,
      );
  }
  return [...new Set(problems)];
}

/** Judges one wave's answers into `problems`; returns how many were rate-limit refusals. */
function countRefusals(probe: Probe, exchanges: Exchange[], answerWithinMs: number, problems: string[]): number {
  let refused = 0;
  for (const exchange of exchanges) {
    const verdict = judge(exchange, {
      clientDeadline: false,
      grpc: probe.grpc,
      toService: false,
      head: false,
      answerWithinMs,
    });
    problems.push(...verdict.problems.map((problem) => `${probe.protocol} burst: ${problem}`));
    if (exchange.kind !== "answer") {
      problems.push(`${probe.protocol} burst: ${exchange.kind} instead of an answer`);
      continue;
    }
    const { code } = statusOf(exchange.answer);
    if (code !== "resource_exhausted") continue;
    refused += 1;
    if (!probe.grpc && exchange.answer.status !== 429)
      problems.push(`${probe.protocol} burst: resource_exhausted with HTTP ${exchange.answer.status}, not 429`);
  }
  return refused;
}
