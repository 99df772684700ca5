// The routes the edge answers itself instead of transcoding an RPC: the key set at the URL
// where JWT verifiers look for it (the RPC's own REST route, GET /v1/auth/jwks, answers the set
// inside a string, `{"jwksJson": "…"}`; verifiers expect the set as the body), a payment
// provider's webhooks and the built-in test provider's 3-D Secure page (payment-routes.ts).
import type { JsonObject } from "./schemas.ts";

export const jwksPath = "/.well-known/jwks.json";

const errorRef = { $ref: "#/components/responses/Error" };
const html = (description: string) => ({
  description,
  content: { "text/html": { schema: { type: "string", description: "A small HTML page without script." } } },
});
const paymentIdParameter = {
  name: "paymentId",
  in: "path",
  required: true,
  description: "The payment's id, as in the redirect URL of its next action.",
  schema: { type: "string", format: "uuid" },
};

export function edgeOperations(): {
  paths: Record<string, Record<string, JsonObject>>;
  schemas: Record<string, JsonObject>;
} {
  return {
    paths: {
      [jwksPath]: {
        get: {
          operationId: "Edge_GetJwks",
          tags: ["AuthService"],
          summary: "The public keys that verify access tokens, as a JSON Web Key Set (RFC 7517).",
          description:
            "Served by the edge from `AuthService.GetJwks`, cacheable for five minutes; " +
            '`GET /v1/auth/jwks` answers the same set as a string, `{"jwksJson": "…"}`.',
          responses: {
            "200": {
              description: "The key set.",
              content: { "application/json": { schema: { $ref: "#/components/schemas/JsonWebKeySet" } } },
            },
            default: { $ref: "#/components/responses/Error" },
          },
        },
      },
      "/v1/webhooks/{provider}": {
        post: {
          operationId: "Edge_ReceiveWebhook",
          tags: ["Webhooks"],
          summary: "A payment provider's signed webhook (the test provider, Stripe).",
          description:
            "Takes the raw body (at most 256 KiB) and passes it, with the request headers (less " +
            "`Authorization` and `Cookie`), to `PaymentService.HandleWebhook`. No token: the provider's " +
            "signature over the raw body is the authentication (the test provider's `Bazaar-Test-Signature`, " +
            "Stripe's `Stripe-Signature`; 5 minutes' timestamp tolerance). A replay of an event id is answered " +
            "`DUPLICATE` and changes nothing. Error reasons: `WEBHOOK_SIGNATURE_INVALID` (400, nothing " +
            "stored), `REQUEST_TOO_LARGE` (413). An unknown provider is 404; 503 asks the provider to retry.",
          security: [{}],
          parameters: [
            {
              name: "provider",
              in: "path",
              required: true,
              description: "`test` or `stripe`: whichever the payment service is configured with.",
              schema: { type: "string", pattern: "^[a-z0-9_-]{1,20}$" },
            },
          ],
          requestBody: {
            required: true,
            description: "The provider's event, exactly as it signed it.",
            content: { "application/json": { schema: { type: "object", additionalProperties: true } } },
          },
          responses: {
            "200": {
              description: "Accepted (applied, seen before, kept until its payment exists, or ignored).",
              content: { "application/json": { schema: { $ref: "#/components/schemas/WebhookReceipt" } } },
            },
            "400": errorRef,
            "404": errorRef,
            "413": errorRef,
            "503": errorRef,
            default: errorRef,
          },
        },
      },
      "/pay/test/{paymentId}": {
        get: {
          operationId: "Edge_GetTestCheckoutPage",
          tags: ["Webhooks"],
          summary: "The built-in test provider's 3-D Secure page (served only while it is configured).",
          description:
            "The redirect URL of a `tok_threeDSecure` payment's next action: the amount and, while the payment " +
            "waits for the buyer, Approve and Decline buttons (a form POST to the same path). Whoever holds the " +
            "link may act on it, as on a provider's hosted test page. From `TestCheckoutService.GetTestCheckout`.",
          security: [{}],
          parameters: [paymentIdParameter],
          responses: {
            "200": html("The page."),
            "404": html("The test provider knows no such payment (or is not configured)."),
            "503": html("The payment service is unavailable."),
          },
        },
        post: {
          operationId: "Edge_ConfirmTestCheckout",
          tags: ["Webhooks"],
          summary: "Approve or decline a test 3-D Secure challenge.",
          description:
            "`TestCheckoutService.ConfirmTestCheckout`: the test provider authorizes or declines the payment and " +
            "sends its signed webhook to `POST /v1/webhooks/test`. The buyer is sent back to the payment's " +
            "return URL with `payment_id` added (303), or shown a result page when it has none.",
          security: [{}],
          parameters: [paymentIdParameter],
          requestBody: {
            required: true,
            content: {
              "application/x-www-form-urlencoded": {
                schema: {
                  type: "object",
                  properties: { decision: { type: "string", enum: ["approve", "decline"] } },
                  required: ["decision"],
                },
              },
            },
          },
          responses: {
            "200": html("Done; the payment has no return URL."),
            "303": {
              description: "Done: back to the return URL, with `?payment_id=<id>`.",
              headers: { Location: { schema: { type: "string", format: "uri" } } },
            },
            "400": html("decision is neither approve nor decline."),
            "404": html("The test provider knows no such payment (or is not configured)."),
            "409": html("The payment is not waiting for the buyer any more."),
            "503": html("The payment service is unavailable."),
          },
        },
      },
    },
    schemas: {
      WebhookReceipt: {
        type: "object",
        description: "What became of a webhook.",
        properties: {
          eventId: { type: "string", description: "The provider's event id." },
          outcome: {
            type: "string",
            enum: ["APPLIED", "DUPLICATE", "KEPT", "IGNORED"],
            description:
              "`APPLIED`: the payment converged on the provider's view; `DUPLICATE`: seen before, nothing done; " +
              "`KEPT`: its payment is not known yet, stored and retried; `IGNORED`: an event type Bazaar does not " +
              "act on.",
          },
        },
        required: ["eventId", "outcome"],
      },
      JsonWebKeySet: {
        type: "object",
        description: "A JSON Web Key Set (RFC 7517): every key that may verify a current access token.",
        properties: { keys: { type: "array", items: { $ref: "#/components/schemas/JsonWebKey" } } },
        required: ["keys"],
      },
      JsonWebKey: {
        type: "object",
        description: "A public key (RFC 7517). Bazaar signs with Ed25519: `kty` `OKP`, `crv` `Ed25519` (RFC 8037).",
        properties: {
          kty: { type: "string", description: "Key type, e.g. `OKP`." },
          crv: { type: "string", description: "The curve, e.g. `Ed25519`." },
          x: { type: "string", pattern: "^[A-Za-z0-9_-]+$", description: "The public key, base64url without padding." },
          kid: { type: "string", description: "Key id: the `kid` header of the tokens this key verifies." },
          alg: { type: "string", description: "The signing algorithm, e.g. `EdDSA`." },
          use: { type: "string", enum: ["sig"], description: "What the key is for: verifying signatures." },
        },
        required: ["kty", "kid", "alg", "use"],
      },
    },
  };
}
