// Sends one case and judges everything it caused: the answer (verdict.ts), the error lines the
// mesh logged meanwhile, and any process that exited. Each HTTP case carries a request id of its
// own, so a log line that arrives late still names the request that caused it.
import type { Exchange, HttpCall, HttpExchanger } from "./exchange.ts";
import type { FuzzMesh } from "./fuzz-mesh.ts";
import type { CaseResult } from "./fuzz-property.ts";
import type { PreparedCall } from "./prepared-call.ts";
import { sendRawBytes } from "./raw-socket.ts";
import { judge, judgeSocketReply, type Verdict } from "./verdict.ts";

/** Cases remembered by request id, so a late error line can name its request. */
const rememberedRequests = 5_000;

export class CaseRunner {
  readonly #mesh: FuzzMesh;
  readonly #exchanger: HttpExchanger;
  readonly #answerWithinMs: number;
  readonly #requests = new Map<string, string>();
  #sequence = 0;

  constructor(mesh: FuzzMesh, exchanger: HttpExchanger, answerWithinMs: number) {
    this.#mesh = mesh;
    this.#exchanger = exchanger;
    this.#answerWithinMs = answerWithinMs;
  }

  /** Sends an HTTP case; `extraCheck` adds problems of its own (found bugs' expected answers). */
  async sendHttp(
    label: string,
    prepared: PreparedCall,
    extraCheck?: (exchange: Exchange) => string[],
  ): Promise<CaseResult> {
    const requestId = `fuzz-${label}-${++this.#sequence}`;
    const headers = prepared.call.headers.some(([name]) => name.toLowerCase() === "x-request-id")
      ? prepared.call.headers
      : [...prepared.call.headers, ["x-request-id", requestId] as [string, string]];
    const call = { ...prepared.call, headers };
    const request = describeCall(call, requestId);
    this.#remember(requestId, request);
    const exchange = await this.#exchanger.send(call);
    const verdict = judge(exchange, {
      ...prepared.facts,
      head: call.method === "HEAD",
      answerWithinMs: this.#answerWithinMs,
    });
    verdict.problems.push(...(extraCheck?.(exchange) ?? []));
    return this.#afterCase(
      verdict,
      `${request}\n${describeExchange(exchange)}`,
      exchange.kind === "notSent" ? 0 : exchange.ms,
    );
  }

  /** Writes raw bytes to `address` (host:port) and judges how the connection ended. */
  async sendBytes(target: string, address: string, bytes: Buffer): Promise<CaseResult> {
    const colon = address.lastIndexOf(":");
    const reply = await sendRawBytes(
      address.slice(0, colon),
      Number(address.slice(colon + 1)),
      bytes,
      this.#answerWithinMs,
    );
    const request = `raw bytes to ${target} (${address}), ${bytes.length} bytes: ${preview(bytes)}`;
    return this.#afterCase(judgeSocketReply(reply.reply, reply.closed, this.#answerWithinMs), request, reply.ms);
  }

  /** Error lines logged after their case was judged, each with the request it names. */
  lateFailures(): string[] {
    return this.#mesh.logs.takeFailures().map(({ process, line }) => {
      const id = /requestId=(\S+)/.exec(line)?.[1];
      const request = id === undefined ? undefined : this.#requests.get(id);
      return `${process} logged after its case was judged: ${line}${request ? `\n    request: ${request}` : ""}`;
    });
  }

  async #afterCase(verdict: Verdict, request: string, ms: number): Promise<CaseResult> {
    // A failure's log lines are written before its answer goes out; two turns let them arrive.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    const problems = [
      ...verdict.problems,
      ...this.#mesh.logs.takeFailures().map(({ process, line }) => `${process} logged: ${line}`),
      ...this.#mesh.processes.takeCrashes().map(({ name, code }) => `the ${name} process exited (code ${code})`),
    ];
    return { problems, outcome: verdict.outcome, ms, request };
  }

  #remember(requestId: string, request: string): void {
    this.#requests.set(requestId, request);
    if (this.#requests.size > rememberedRequests) this.#requests.delete(this.#requests.keys().next().value!);
  }
}

function describeCall(call: HttpCall, requestId: string): string {
  const path = call.path.length > 300 ? `${call.path.slice(0, 300)}…` : call.path;
  const headers = call.headers.map(
    ([name, value]) => `  ${name}: ${value.length > 120 ? `${value.slice(0, 120)}… (${value.length} chars)` : value}`,
  );
  return [
    `HTTP/${call.httpVersion} ${call.method} ${call.origin}${path} (request id ${requestId})`,
    ...headers,
    `  body ${call.body.length} bytes: ${preview(call.body)}`,
  ].join("\n");
}

function describeExchange(exchange: Exchange): string {
  if (exchange.kind !== "answer") return `answer: ${exchange.kind}${"error" in exchange ? ` (${exchange.error})` : ""}`;
  const { status, headers, trailers, body, cutOff } = exchange.answer;
  const fields = (record: Record<string, string>) =>
    Object.entries(record).map(([name, value]) => `  ${name}: ${value.slice(0, 200)}`);
  return [
    `answer: HTTP ${status}${cutOff ? " (cut off)" : ""} after ${Math.round(exchange.ms)} ms`,
    ...fields(headers),
    `  body ${body.length} bytes: ${preview(body)}`,
    ...fields(trailers),
  ].join("\n");
}

/** The first bytes as text when they read as text, else as hex. */
function preview(bytes: Buffer): string {
  const head = bytes.subarray(0, 300);
  const text = head.toString("utf8");
  const printable = !/[\u0000-\u0008\u000e-\u001f\ufffd]/.test(text);
  return (printable ? JSON.stringify(text) : head.toString("hex")) + (bytes.length > head.length ? "…" : "");
}
