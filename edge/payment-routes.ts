// Two HTTP doors to the payment service that are not RPC routes, answered by the edge itself:
//   POST /v1/webhooks/{provider}  a provider's webhook: the raw body and headers go to
//                                 PaymentService.HandleWebhook, whose signature check is the
//                                 authentication (no token); nothing else of PaymentService is
//                                 reachable from the edge.
//   GET|POST /pay/test/{id}       the built-in test provider's hosted 3-D Secure page
//                                 (TestCheckoutService): a small HTML form, no script, that
//                                 approves or declines and sends the buyer back to return_url.
import type { ServerResponse } from "node:http";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import {
  PaymentService,
  PaymentStatus,
  TestCheckoutService,
  WebhookOutcome,
  type TestCheckout,
} from "../gen/bazaar/payment/v1/payment_pb.ts";
import { reasonedError } from "../services/kit/error-info.ts";
import type { Logger } from "../services/kit/log.ts";
import { writeError } from "./errors.ts";
import { isBodyTooLarge, readBody } from "./request-body.ts";
import type { EdgeRequest, EdgeResponse } from "./server.ts";

/** The largest webhook body accepted (HandleWebhook's own limit). */
export const webhookMaxBytes = 256 * 1024;
export const webhookPath = /^\/v1\/webhooks\/([a-z0-9_-]{1,20})$/;
export const testPagePath = /^\/pay\/test\/([0-9a-f-]{36})$/;
/** Headers never passed on: they authenticate the caller to the edge, not the provider's event. */
const droppedHeaders = new Set(["authorization", "cookie"]);
const formMaxBytes = 1024;
/** Enum value → name (APPLIED, REQUIRES_ACTION …), as the JSON answer and the page show them. */
const namesOf = (values: Record<string, string | number>) =>
  Object.fromEntries(Object.entries(values).map(([name, value]) => [value, name])) as Record<number, string>;
const outcomeNames = namesOf(WebhookOutcome);
const statusNames = namesOf(PaymentStatus);

export interface PaymentRoutes {
  /** Answers the request when its path is one of the routes; false otherwise. */
  serve(req: EdgeRequest, res: EdgeResponse, path: string): boolean;
}

export function paymentRoutes(transport: Transport, timeoutMs: number, log: Logger): PaymentRoutes {
  const payments = createClient(PaymentService, transport);
  const checkout = createClient(TestCheckoutService, transport);
  const options = { timeoutMs };

  const webhook = async (req: EdgeRequest, res: EdgeResponse, provider: string) => {
    if (Number(req.headers["content-length"] ?? 0) > webhookMaxBytes) {
      req.resume();
      return writeError(req, res, tooLarge(), 413);
    }
    let payload: Buffer;
    try {
      payload = await readBody(req, webhookMaxBytes);
    } catch (error) {
      if (isBodyTooLarge(error)) return writeError(req, res, error as ConnectError, 413);
      throw error;
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined || name.startsWith(":") || droppedHeaders.has(name)) continue;
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(", ") : value;
    }
    try {
      const answer = await payments.handleWebhook({ provider, payload, headers }, options);
      sendJson(res, 200, { eventId: answer.eventId, outcome: outcomeNames[answer.outcome] ?? "UNSPECIFIED" });
    } catch (error) {
      const failure = ConnectError.from(error);
      if (failure.code === Code.Unavailable || failure.code === Code.DeadlineExceeded) {
        // The provider retries on its own: say so with 503, without internals.
        log.warn({ err: failure, provider }, "webhook could not be handed to the payment service");
        return writeError(
          req,
          res,
          new ConnectError("the payment service is unavailable, retry later", Code.Unavailable),
          503,
        );
      }
      if (failure.code === Code.InvalidArgument || failure.code === Code.NotFound) return writeError(req, res, failure);
      log.error({ err: failure, provider }, "webhook failed in the payment service");
      writeError(req, res, new ConnectError("the webhook could not be processed", Code.Internal));
    }
  };

  const testPage = async (req: EdgeRequest, res: EdgeResponse, paymentId: string) => {
    try {
      if (req.method === "GET" || req.method === "HEAD") {
        const { checkout: page } = await checkout.getTestCheckout({ paymentId }, options);
        return sendHtml(res, 200, checkoutPage(page!), formTarget(page!));
      }
      const form = new URLSearchParams((await readBody(req, formMaxBytes)).toString("utf8"));
      const decision = form.get("decision");
      if (decision !== "approve" && decision !== "decline") {
        return sendHtml(res, 400, resultPage("Choose Approve or Decline."));
      }
      const { checkout: page } = await checkout.confirmTestCheckout(
        { paymentId, approve: decision === "approve" },
        options,
      );
      if (page!.returnUrl) {
        const back = new URL(page!.returnUrl);
        back.searchParams.set("payment_id", paymentId);
        (res as ServerResponse).writeHead(303, { location: back.toString(), "cache-control": "no-store" });
        return (res as ServerResponse).end();
      }
      sendHtml(res, 200, resultPage(decision === "approve" ? "Payment approved." : "Payment declined."));
    } catch (error) {
      if (isBodyTooLarge(error)) return sendHtml(res, 413, resultPage("The form is too large."));
      const failure = ConnectError.from(error);
      const [status, text] =
        failure.code === Code.NotFound || failure.code === Code.Unimplemented || failure.code === Code.InvalidArgument
          ? [404, "There is no test payment here."]
          : failure.code === Code.FailedPrecondition
            ? [409, "This payment is not waiting for confirmation any more."]
            : [503, "The payment service is unavailable; try again."];
      if (status === 503) log.warn({ err: failure, paymentId }, "test checkout page failed");
      sendHtml(res, status, resultPage(text));
    }
  };

  return {
    serve(req, res, path) {
      const hook = webhookPath.exec(path);
      if (hook) {
        if (req.method !== "POST") {
          writeError(req, res, new ConnectError(`${req.method} is not allowed on ${path}`, Code.Unimplemented), 405);
          return true;
        }
        webhook(req, res, hook[1]!).catch((error) => failed(res, error, log));
        return true;
      }
      const page = testPagePath.exec(path);
      if (page) {
        if (req.method !== "GET" && req.method !== "HEAD" && req.method !== "POST") {
          sendHtml(res, 405, resultPage(`${req.method} is not allowed here.`));
          return true;
        }
        testPage(req, res, page[1]!).catch((error) => failed(res, error, log));
        return true;
      }
      return false;
    },
  };
}

function tooLarge(): ConnectError {
  return reasonedError("REQUEST_TOO_LARGE", `the webhook body exceeds the limit of ${webhookMaxBytes} bytes`, {
    limit_bytes: String(webhookMaxBytes),
  });
}

function failed(res: EdgeResponse, error: unknown, log: Logger) {
  log.error({ err: error }, "payment route failed in the edge");
  const response = res as ServerResponse;
  if (!response.headersSent) sendJson(res, 500, { code: "internal", message: "the request failed" });
  else response.destroy();
}

function sendJson(res: EdgeResponse, status: number, body: unknown) {
  const response = res as ServerResponse;
  response.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
  response.end(JSON.stringify(body));
}

/** Where the page's form may lead: this page, and the return_url's origin the 303 goes to. */
function formTarget(page: TestCheckout): string {
  try {
    return page.returnUrl ? new URL(page.returnUrl).origin : "";
  } catch {
    return "";
  }
}

function sendHtml(res: EdgeResponse, status: number, html: string, formOrigin = "") {
  const response = res as ServerResponse;
  response.writeHead(status, {
    "content-type": "text/html; charset=utf-8",
    "cache-control": "no-store",
    // No script, no inline style: nothing on the page runs. form-action also covers the 303.
    "content-security-policy": [
      "default-src 'none'",
      ["form-action 'self'", formOrigin].filter(Boolean).join(" "),
      "base-uri 'none'",
      "frame-ancestors 'none'",
    ].join("; "),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
  });
  response.end(html);
}

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

function amountOf(page: TestCheckout): string {
  const minor = page.amount?.amountMinor ?? 0n;
  const sign = minor < 0n ? "-" : "";
  const abs = minor < 0n ? -minor : minor;
  return `${sign}${abs / 100n}.${String(abs % 100n).padStart(2, "0")} ${page.amount?.currencyCode ?? ""}`;
}

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title></head>
<body>
<h1>${escapeHtml(title)}</h1>
${body}
</body>
</html>
`;
}

function checkoutPage(page: TestCheckout): string {
  const waiting = page.status === PaymentStatus.REQUIRES_ACTION;
  const status = statusNames[page.status] ?? "UNSPECIFIED";
  const form = waiting
    ? `<form method="post">
<p>The bank asks you to confirm this payment (3-D Secure, test mode).</p>
<button type="submit" name="decision" value="approve">Approve</button>
<button type="submit" name="decision" value="decline">Decline</button>
</form>`
    : "<p>This payment is not waiting for confirmation.</p>";
  return layout(
    "Bazaar test payment",
    `<p>Amount: <strong id="amount">${escapeHtml(amountOf(page))}</strong></p>
<p>Status: <span id="status">${escapeHtml(status)}</span></p>
${form}`,
  );
}

function resultPage(message: string): string {
  return layout("Bazaar test payment", `<p id="result">${escapeHtml(message)}</p>`);
}
