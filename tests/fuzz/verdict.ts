// What every answer to fuzzed input must be: on time; a client's mistake answered as one
// (a 4xx, or a code other than internal/unknown/data_loss), never a 5xx other than 503; gRPC
// answers carrying a status; rate-limit refusals saying when to retry; and no stack trace, file
// path or driver error in anything a client reads.
import type { Answer, Exchange } from "./exchange.ts";
import { statusOf } from "./answer-status.ts";

export interface CallFacts {
  /** The request gave the server a deadline of its own (connect-timeout-ms, grpc-timeout). */
  clientDeadline: boolean;
  /** The client spoke gRPC or gRPC-Web, whose answers must carry grpc-status. */
  grpc: boolean;
  /** Sent straight to a service's grpc-js server (see grpcJsRefusals). */
  toService: boolean;
  /** A HEAD request: its answers have headers only, so no code can be read from them. */
  head: boolean;
  answerWithinMs: number;
}

export interface Verdict {
  problems: string[];
  /** A short label of the outcome for the tally, e.g. "400 invalid_argument" or "grpc not_found". */
  outcome: string;
}

const serverFaults = new Set(["internal", "unknown", "data_loss"]);

/**
 * INTERNAL answers grpc-js writes itself, before any of our code runs, for malformed protocol
 * input: a grpc-timeout outside its grammar, a message that does not decompress. Nothing in the
 * mesh sends either (the edge never passes on a client's grpc-timeout or compressed bytes), and
 * no server code can change them, so they are tallied apart instead of failing the run.
 */
const grpcJsRefusals = [/^Invalid grpc-timeout value/, /^Failed to decompress message$/];

/** What must never reach a client: stack frames, source paths, driver error codes. */
const leaks = [
  /\n\s+at \S.*:\d+:\d+\)?/,
  /\bnode:internal\//,
  /\/(work|home|usr|app)\/[\w./-]+\.(ts|js)\b/,
  /\bER_[A-Z_]{4,}\b/,
  /\bnode_modules\b/,
];

export function judge(exchange: Exchange, facts: CallFacts): Verdict {
  switch (exchange.kind) {
    case "notSent":
      return { problems: [], outcome: "not sent" };
    case "noAnswer":
      return { problems: [`no answer within ${facts.answerWithinMs} ms`], outcome: "no answer" };
    // How HTTP refuses what it will not read (headers over the size limit, a body cut off after
    // its 413): counted, not failed. A crash behind a reset shows as the process's exit.
    case "transportError":
      return { problems: [], outcome: "reset" };
    case "answer":
      return judgeAnswer(exchange.answer, facts);
  }
}

function judgeAnswer(answer: Answer, facts: CallFacts): Verdict {
  const problems: string[] = [];
  const status = statusOf(answer);
  const code = status.code;
  const grpcAnswer = (answer.headers["content-type"] ?? "").startsWith("application/grpc");
  const outcome =
    answer.cutOff && code === undefined
      ? `${answer.status} open stream`
      : `${grpcAnswer ? "grpc" : answer.status} ${code ?? "-"}`;

  const libraryRefusal =
    facts.toService && code === "internal" && grpcJsRefusals.some((pattern) => pattern.test(status.message));
  if (libraryRefusal) return { problems, outcome: "grpc-js internal refusal" };

  const timedOutByClient = code === "deadline_exceeded" && facts.clientDeadline;
  if (answer.status >= 500 && answer.status !== 503 && !(answer.status === 504 && timedOutByClient)) {
    problems.push(`HTTP ${answer.status}`);
  }
  if (code !== undefined && serverFaults.has(code)) problems.push(`code ${code}: ${status.message}`);
  if (code === "deadline_exceeded" && !facts.clientDeadline)
    problems.push(`deadline_exceeded though the client set no deadline: ${status.message}`);
  if (status.malformed) problems.push(`the answer's status is not a valid code: ${code}`);
  // HTTP forbids a body or trailers in the answer to HEAD, so no status can come back.
  if (facts.grpc && answer.status === 200 && code === undefined && !answer.cutOff && !facts.head)
    problems.push("a gRPC answer without grpc-status");
  if (answer.status === 429 && code !== "resource_exhausted" && !facts.head)
    problems.push(`HTTP 429 with code ${code}`);
  if (
    code === "resource_exhausted" &&
    /^too many requests/.test(status.message) &&
    !(Number(answer.headers["retry-after"]) >= 1)
  ) {
    problems.push(`a rate-limit refusal without retry-after (got ${answer.headers["retry-after"]})`);
  }
  const leak = leaks.find(
    (pattern) =>
      pattern.test(status.message) || (code !== "ok" && pattern.test(answer.body.subarray(0, 8_192).toString("utf8"))),
  );
  if (leak) problems.push(`the answer shows internals (${leak}): ${status.message.slice(0, 300)}`);
  return { problems, outcome };
}

/** A raw connection must end, and an HTTP/1.1 status in reply must not be a server fault. */
export function judgeSocketReply(reply: Buffer, closed: boolean, closeWithinMs: number): Verdict {
  const problems: string[] = [];
  if (!closed) problems.push(`the connection was still open ${closeWithinMs} ms after the client finished sending`);
  const text = reply.subarray(0, 8_192).toString("latin1");
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1];
  if (status !== undefined && Number(status) >= 500 && status !== "503") problems.push(`HTTP ${status}`);
  const leak = leaks.find((pattern) => pattern.test(text));
  if (leak) problems.push(`the reply shows internals (${leak})`);
  return {
    problems,
    outcome: status !== undefined ? `HTTP ${status}` : reply.length > 0 ? "binary reply" : closed ? "closed" : "open",
  };
}
