// A local stand-in for Stripe's PaymentIntents API, for tests: real HTTP on 127.0.0.1, form
// bodies as the SDK sends them, answers built from Stripe's published example objects
// (fixtures.json: stripe/openapi openapi/fixtures3.json, commit named inside). It keeps state per
// PaymentIntent, honours Idempotency-Key as Stripe does and refuses parameters it does not know,
// so an adapter that sends something the stand-in would silently ignore fails here first. What it
// cannot prove (Stripe's real rules beyond these) is what `npm run test:stripe` is for.
// fixtures3.json has no error objects: the error bodies here (type, code, param, message,
// decline_code, payment_intent) follow Stripe's documented error shape, written by hand.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import Stripe from "stripe";

type Json = Record<string, any>;

const fixtures: Json = JSON.parse(readFileSync(join(import.meta.dirname, "fixtures.json"), "utf8"));

/**
 * The parameters each endpoint accepts: names from the SDK's own param types
 * (PaymentIntentCreateParams, …). The stand-in implements only these; anything else (whether the
 * SDK types know it or not) is answered 400 parameter_unknown rather than ignored.
 */
const ACCEPTED = {
  create: [
    "amount",
    "currency",
    "capture_method",
    "confirm",
    "allowed_payment_method_types",
    "payment_method",
    "metadata",
    "expand",
    "return_url",
    "description",
  ],
  capture: ["amount_to_capture", "expand", "metadata"],
  cancel: ["cancellation_reason", "expand"],
  retrieve: ["expand", "client_secret"],
  refund: ["payment_intent", "amount", "metadata", "reason", "expand"],
} as const;

const SUCCEEDING = new Set(["pm_card_visa", "pm_card_mastercard", "tok_visa", "tok_mastercard"]);
const THREE_D_SECURE = new Set([
  "pm_card_threeDSecure2Required",
  "pm_card_threeDSecureRequired",
  "tok_threeDSecure2Required",
  "tok_threeDSecure",
]);
const DECLINING = new Set(["pm_card_chargeDeclined", "pm_card_visa_chargeDeclined", "tok_chargeDeclined"]);

class ApiError extends Error {
  readonly status: number;
  readonly body: Json;
  constructor(status: number, body: Json) {
    super(String(body.message));
    this.status = status;
    this.body = body;
  }
}

function invalid(message: string, extra: Json = {}, status = 400): ApiError {
  return new ApiError(status, { type: "invalid_request_error", message, ...extra });
}

export interface StripeStandIn {
  /** host/port/protocol for createStripeProvider({ apiBase }). */
  apiBase: { host: string; port: number; protocol: "http" };
  /** The buyer finishes 3-D Secure (what the redirect page would do). */
  completeAction(paymentIntentId: string): void;
  /**
   * The next request fails as Stripe can: 500 api_error (an outage), 429 rate_limit, or no answer
   * at all (hang: the connection stays open until the client times out).
   */
  failNext(kind?: "api_error" | "rate_limit" | "hang"): void;
  /** How many requests each idempotency key executed (replays are not executions). */
  executions(idempotencyKey: string): number;
  /** A webhook body and its Stripe-Signature header, signed with `secret` at `timestampSeconds`. */
  signedEvent(
    type: string,
    object: Json,
    secret: string,
    timestampSeconds?: number,
  ): { payload: string; header: string; eventId: string };
  /** A PaymentIntent as the stand-in holds it (for building webhook events). */
  paymentIntent(id: string): Json;
  close(): Promise<void>;
}

export async function startStripeStandIn(): Promise<StripeStandIn> {
  const intents = new Map<string, Json>();
  const charges = new Map<string, Json>();
  const idempotent = new Map<string, { fingerprint: string; status: number; body: string }>();
  const executed = new Map<string, number>();
  let failNext: "api_error" | "rate_limit" | "hang" | undefined;
  let port = 0;

  const server: Server = createServer((req, res) => {
    // A bug in the stand-in answers 500 (the adapter sees an outage) instead of killing the run.
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { type: "api_error", message: `stand-in: ${String(error)}` } }));
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const body = await readBody(req);
    const params = decodeForm(req.method === "GET" ? url.search.slice(1) : body);
    const send = (status: number, text: string, replayed = false) => {
      res.writeHead(status, {
        "content-type": "application/json",
        "request-id": `req_${random(14)}`,
        ...(replayed ? { "idempotent-replayed": "true" } : {}),
      });
      res.end(text);
    };
    if (!/^Bearer sk_test_/.test(req.headers.authorization ?? "")) {
      send(401, JSON.stringify({ error: { type: "invalid_request_error", message: "Invalid API Key provided" } }));
      return;
    }
    if (failNext) {
      const kind = failNext;
      failNext = undefined;
      if (kind === "hang") return;
      if (kind === "rate_limit") {
        const message = "Too many requests hit the API too quickly.";
        send(429, JSON.stringify({ error: { type: "invalid_request_error", code: "rate_limit", message } }));
        return;
      }
      send(500, JSON.stringify({ error: { type: "api_error", message: "An unknown error occurred" } }));
      return;
    }
    const key = req.method === "POST" ? headerOf(req, "idempotency-key") : undefined;
    const fingerprint = `${req.method} ${url.pathname} ${JSON.stringify(params)}`;
    if (key) {
      const earlier = idempotent.get(key);
      if (earlier && earlier.fingerprint !== fingerprint) {
        const message = `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`;
        send(400, JSON.stringify({ error: { type: "idempotency_error", message } }));
        return;
      }
      if (earlier) {
        send(earlier.status, earlier.body, true);
        return;
      }
      executed.set(key, (executed.get(key) ?? 0) + 1);
    }
    let status = 200;
    let text: string;
    try {
      text = JSON.stringify(route(req.method ?? "GET", url.pathname, params));
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      status = error.status;
      text = JSON.stringify({ error: error.body });
    }
    // Stripe keeps every answer but a 5xx for the key's 24 hours.
    if (key && status < 500) idempotent.set(key, { fingerprint, status, body: text });
    send(status, text);
  }

  function route(method: string, path: string, params: Json): Json {
    let m: RegExpMatchArray | null;
    if (method === "POST" && path === "/v1/payment_intents") return createIntent(params);
    if (method === "GET" && (m = path.match(/^\/v1\/payment_intents\/([^/]+)$/))) {
      accept(params, ACCEPTED.retrieve);
      return render(intentOf(m[1]!), params);
    }
    if (method === "POST" && (m = path.match(/^\/v1\/payment_intents\/([^/]+)\/capture$/))) {
      return capture(intentOf(m[1]!), params);
    }
    if (method === "POST" && (m = path.match(/^\/v1\/payment_intents\/([^/]+)\/cancel$/))) {
      return cancel(intentOf(m[1]!), params);
    }
    if (method === "POST" && path === "/v1/refunds") return refund(params);
    throw invalid(`Unrecognized request URL (${method}: ${path}).`, {}, 404);
  }

  function createIntent(params: Json): Json {
    accept(params, ACCEPTED.create);
    const amount = positiveInteger(params, "amount", true)!;
    const currency = params.currency;
    if (typeof currency !== "string" || !/^[a-z]{3}$/.test(currency)) {
      throw invalid("Invalid currency", { param: "currency", code: "parameter_invalid_string" });
    }
    const captureMethod = params.capture_method ?? "automatic";
    if (!["automatic", "automatic_async", "manual"].includes(captureMethod)) {
      throw invalid("Invalid capture_method", { param: "capture_method" });
    }
    const confirm = booleanParam(params, "confirm");
    const id = `pi_${random(24)}`;
    const intent: Json = {
      ...structuredClone(fixtures.payment_intent),
      id,
      amount,
      amount_capturable: 0,
      amount_received: 0,
      currency,
      capture_method: captureMethod,
      client_secret: `${id}_secret_${random(25)}`,
      created: nowSeconds(),
      canceled_at: null,
      metadata: { ...(params.metadata ?? {}) },
      description: params.description ?? null,
      automatic_payment_methods: null,
      payment_method_types: params.allowed_payment_method_types ?? ["card"],
      payment_method: params.payment_method ?? null,
      payment_method_configuration_details: null,
      processing: null,
      transfer_data: null,
      managed_payments: null,
      next_action: null,
      last_payment_error: null,
      latest_charge: null,
      status: params.payment_method ? "requires_confirmation" : "requires_payment_method",
    };
    if (params.return_url !== undefined && !confirm) {
      throw invalid("You can only specify return_url when confirm is true.", { param: "return_url" });
    }
    if (confirm) {
      const pm = params.payment_method;
      if (typeof pm !== "string") throw invalid("You must provide a payment_method.", { param: "payment_method" });
      if (!SUCCEEDING.has(pm) && !THREE_D_SECURE.has(pm) && !DECLINING.has(pm)) {
        throw invalid(`No such PaymentMethod: '${pm}'`, { param: "payment_method", code: "resource_missing" });
      }
      intents.set(id, intent);
      if (DECLINING.has(pm)) {
        const charge = newCharge(intent, "failed");
        const lastError = {
          type: "card_error",
          code: "card_declined",
          decline_code: "generic_decline",
          message: "Your card was declined.",
          charge: charge.id,
        };
        Object.assign(intent, {
          status: "requires_payment_method",
          payment_method: null,
          last_payment_error: lastError,
        });
        throw new ApiError(402, { ...lastError, payment_intent: render(intent, {}) });
      }
      if (THREE_D_SECURE.has(pm)) {
        intent.status = "requires_action";
        intent.next_action = params.return_url
          ? {
              type: "redirect_to_url",
              redirect_to_url: {
                url: `http://127.0.0.1:${port}/3ds/${id}?client_secret=${intent.client_secret}`,
                return_url: params.return_url,
              },
            }
          : { type: "use_stripe_sdk", use_stripe_sdk: { type: "three_d_secure_redirect" } };
      } else {
        authorize(intent);
      }
    }
    intents.set(id, intent);
    return render(intent, params);
  }

  function authorize(intent: Json): void {
    newCharge(intent, "succeeded");
    intent.next_action = null;
    if (intent.capture_method === "manual") {
      Object.assign(intent, { status: "requires_capture", amount_capturable: intent.amount });
    } else {
      Object.assign(intent, { status: "succeeded", amount_received: intent.amount });
      charges.get(intent.latest_charge)!.amount_captured = intent.amount;
      charges.get(intent.latest_charge)!.captured = true;
    }
  }

  function newCharge(intent: Json, status: string): Json {
    const charge: Json = {
      ...structuredClone(fixtures.charge),
      id: `ch_${random(24)}`,
      amount: intent.amount,
      amount_captured: 0,
      amount_refunded: 0,
      captured: false,
      refunded: false,
      currency: intent.currency,
      created: nowSeconds(),
      metadata: { ...intent.metadata },
      paid: status === "succeeded",
      status,
      payment_intent: intent.id,
      payment_method: intent.payment_method,
      failure_code: status === "failed" ? "card_declined" : null,
      failure_message: status === "failed" ? "Your card was declined." : null,
    };
    charges.set(charge.id, charge);
    intent.latest_charge = charge.id;
    return charge;
  }

  function capture(intent: Json, params: Json): Json {
    accept(params, ACCEPTED.capture);
    if (intent.status !== "requires_capture") throw unexpectedState(intent, "capture");
    const amount = positiveInteger(params, "amount_to_capture", false) ?? intent.amount_capturable;
    if (amount > intent.amount_capturable) {
      throw invalid("The amount to capture must be less than or equal to the amount capturable.", {
        param: "amount_to_capture",
        code: "amount_too_large",
      });
    }
    Object.assign(intent, { status: "succeeded", amount_received: amount, amount_capturable: 0 });
    const charge = charges.get(intent.latest_charge)!;
    Object.assign(charge, { amount_captured: amount, captured: true });
    // The uncaptured remainder of a partial capture is released, not refunded: nothing to record.
    return render(intent, params);
  }

  function cancel(intent: Json, params: Json): Json {
    accept(params, ACCEPTED.cancel);
    const cancelable = ["requires_payment_method", "requires_capture", "requires_confirmation", "requires_action"];
    if (!cancelable.includes(intent.status)) throw unexpectedState(intent, "cancel");
    Object.assign(intent, {
      status: "canceled",
      canceled_at: nowSeconds(),
      cancellation_reason: params.cancellation_reason ?? null,
      amount_capturable: 0,
      next_action: null,
    });
    return render(intent, params);
  }

  function refund(params: Json): Json {
    accept(params, ACCEPTED.refund);
    if (typeof params.payment_intent !== "string") {
      throw invalid("One of the following params should be provided for this request: payment_intent or charge.", {
        param: "payment_intent",
      });
    }
    const intent = intentOf(params.payment_intent, "payment_intent");
    if (intent.status !== "succeeded") {
      throw invalid(`This PaymentIntent (${intent.id}) does not have a successful charge to refund.`, {
        param: "payment_intent",
      });
    }
    const charge = charges.get(intent.latest_charge)!;
    const left = charge.amount_captured - charge.amount_refunded;
    if (left === 0) {
      throw invalid(`Charge ${charge.id} has already been refunded.`, { code: "charge_already_refunded" });
    }
    const amount = positiveInteger(params, "amount", false) ?? left;
    if (amount > left) {
      throw invalid(`Refund amount (${amount}) is greater than unrefunded amount on charge (${left})`, {
        param: "amount",
        code: "amount_too_large",
      });
    }
    charge.amount_refunded += amount;
    charge.refunded = charge.amount_refunded === charge.amount_captured;
    return {
      ...structuredClone(fixtures.refund),
      id: `re_${random(24)}`,
      amount,
      charge: charge.id,
      currency: intent.currency,
      created: nowSeconds(),
      metadata: { ...(params.metadata ?? {}) },
      payment_intent: intent.id,
      payment_method: intent.payment_method,
      reason: params.reason ?? null,
      status: "succeeded",
    };
  }

  function intentOf(id: string, param?: string): Json {
    const intent = intents.get(id);
    if (!intent) {
      throw invalid(`No such payment_intent: '${id}'`, { code: "resource_missing", ...(param ? { param } : {}) }, 404);
    }
    return intent;
  }

  function render(intent: Json, params: Json): Json {
    const expand: unknown[] = params.expand ?? [];
    for (const field of expand) {
      if (field !== "latest_charge") throw invalid(`This property cannot be expanded (${String(field)}).`);
    }
    const copy = structuredClone(intent);
    if (expand.includes("latest_charge") && copy.latest_charge) {
      copy.latest_charge = structuredClone(charges.get(copy.latest_charge));
    }
    return copy;
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;

  return {
    apiBase: { host: "127.0.0.1", port, protocol: "http" },
    completeAction(id) {
      const intent = intents.get(id);
      if (intent?.status !== "requires_action") throw new Error(`${id} is not waiting for an action`);
      authorize(intent);
    },
    failNext(kind = "api_error") {
      failNext = kind;
    },
    executions: (key) => executed.get(key) ?? 0,
    signedEvent(type, object, secret, timestampSeconds = nowSeconds()) {
      const eventId = `evt_${random(24)}`;
      const event = {
        ...structuredClone(fixtures.event),
        id: eventId,
        type,
        created: timestampSeconds,
        data: { object },
      };
      const payload = JSON.stringify(event);
      const header = Stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp: timestampSeconds });
      return { payload, header, eventId };
    },
    paymentIntent: (id) => render(intentOf(id), { expand: ["latest_charge"] }),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

function accept(params: Json, allowed: readonly string[]): void {
  for (const name of Object.keys(params)) {
    if (!allowed.includes(name)) {
      throw invalid(`Received unknown parameter: ${name}`, { param: name, code: "parameter_unknown" });
    }
  }
}

function unexpectedState(intent: Json, action: string): ApiError {
  return invalid(`This PaymentIntent's ${action} could not be performed because it has a status of ${intent.status}.`, {
    code: "payment_intent_unexpected_state",
    payment_intent: structuredClone(intent),
  });
}

function positiveInteger(params: Json, name: string, required: boolean): number | undefined {
  const raw = params[name];
  if (raw === undefined) {
    if (required) throw invalid(`Missing required param: ${name}.`, { param: name, code: "parameter_missing" });
    return undefined;
  }
  if (typeof raw !== "string" || !/^[1-9][0-9]{0,7}$/.test(raw)) {
    throw invalid(`Invalid integer: ${String(raw)}`, { param: name, code: "parameter_invalid_integer" });
  }
  return Number(raw);
}

function booleanParam(params: Json, name: string): boolean {
  const raw = params[name];
  if (raw === undefined) return false;
  if (raw !== "true" && raw !== "false") throw invalid(`Invalid boolean: ${String(raw)}`, { param: name });
  return raw === "true";
}

/** Decodes the SDK's form encoding: `metadata[a]=1&expand[0]=latest_charge`. */
export function decodeForm(text: string): Json {
  const out: Json = {};
  for (const [rawKey, value] of new URLSearchParams(text)) {
    const parts = rawKey.split(/\[|\]\[|\]/).filter((part) => part !== "");
    let node: Json = out;
    parts.forEach((part, index) => {
      if (index === parts.length - 1) node[part] = value;
      else node = node[part] ??= {};
    });
  }
  return arraysOf(out);
}

function arraysOf(node: Json): Json {
  for (const [key, value] of Object.entries(node)) {
    if (value && typeof value === "object") {
      const keys = Object.keys(value);
      node[key] = keys.length > 0 && keys.every((k) => /^\d+$/.test(k)) ? keys.map((k) => value[k]) : arraysOf(value);
    }
  }
  return node;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function random(length: number): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  return Array.from(randomBytes(length), (byte) => alphabet[byte % alphabet.length]).join("");
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
