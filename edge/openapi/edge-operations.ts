// The JSON route the edge answers itself instead of transcoding an RPC: the key set at the URL
// where JWT verifiers look for it. The RPC's own REST route (GET /v1/auth/jwks) answers the
// set inside a string, `{"jwksJson": "…"}`; verifiers expect the set as the body.
import type { JsonObject } from "./schemas.ts";

export const jwksPath = "/.well-known/jwks.json";

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
    },
    schemas: {
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
