// The checker every e2e REST answer passes through: what it refuses, and how it says so.
import { describe, expect, it } from "vitest";
import { answerViolations, assertAsDocumented, lineViolations, operationOf } from "./openapi-contract.ts";

const category = { id: "0193a000-0000-7000-8000-0000000000aa", name: "Fruit", slug: "fruit", sortOrder: 1 };
const answer = (path: string, body: unknown, status = 200) => ({
  method: "GET",
  path,
  status,
  contentType: "application/json",
  body,
});

describe("matching a request to its operation", () => {
  it("tells a :verb from a path variable, and ignores the query", () => {
    expect(operationOf("GET", "/v1/products:search?query=tea")?.template).toBe("/v1/products:search");
    expect(operationOf("POST", "/v1/products/abc:adjustStock")?.template).toBe("/v1/products/{id}:adjustStock");
    expect(operationOf("GET", "/v1/products/abc")?.template).toBe("/v1/products/{id}");
    expect(operationOf("PUT", "/v1/products")).toBeUndefined();
  });
});

describe("checking an answer", () => {
  it("when a top-level category is answered as the document says, then nothing is wrong", () => {
    expect(answerViolations(answer("/v1/categories", { categories: [category] }))).toEqual([]);
  });

  it('when an optional uuid is written as "", then the JSON pointer and the format rule are named', () => {
    const violations = answerViolations(answer("/v1/categories", { categories: [{ ...category, parentId: "" }] }));
    expect(violations).toEqual([
      '/categories/0/parentId: must match format "uuid" [format at #/components/schemas/bazaar.product.v1.Category/properties/parentId/format]',
    ]);
    expect(() => assertAsDocumented("GET /v1/categories → 200", violations)).toThrow(
      /^GET \/v1\/categories → 200: the answer breaks the OpenAPI document/,
    );
  });

  it("when an answer has a property the document does not name, then it is refused", () => {
    expect(answerViolations(answer("/.well-known/jwks.json", { jwksJson: "{}" }))).toEqual(
      expect.arrayContaining([expect.stringMatching(/^\(the body\): must NOT have unevaluated properties "jwksJson"/)]),
    );
    // A private key member leaking into the key set.
    const key = { kty: "OKP", crv: "Ed25519", x: "abc", kid: "k1", alg: "EdDSA", use: "sig" };
    expect(answerViolations(answer("/.well-known/jwks.json", { keys: [key] }))).toEqual([]);
    expect(answerViolations(answer("/.well-known/jwks.json", { keys: [{ ...key, d: "secret" }] }))).toEqual([
      '/keys/0: must NOT have unevaluated properties "d" [unevaluatedProperties at #/components/schemas/JsonWebKey/unevaluatedProperties]',
    ]);
  });

  it("when a 64-bit integer is a JSON number, an enum is unknown or a timestamp has no zone, then each is named", () => {
    const product = {
      id: category.id,
      price: { currencyCode: "EUR", amountMinor: 350 },
      createTime: "2026-12-04T09:11:58",
    };
    const violations = answerViolations(answer(`/v1/products/${category.id}`, { product }));
    expect(violations).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^\/product\/price\/amountMinor: must be string \[type/),
        expect.stringMatching(/^\/product\/createTime: must match format "date-time"/),
      ]),
    );
    const decimal = { id: category.id, price: { currencyCode: "EUR", amountMinor: "3.50" } };
    expect(answerViolations(answer(`/v1/products/${category.id}`, { product: decimal }))).toEqual([
      expect.stringMatching(/^\/product\/price\/amountMinor: must match format "int64"/),
    ]);
    const order = { id: category.id, status: 7 };
    expect(answerViolations(answer(`/v1/orders/${category.id}`, { order }))).toEqual(
      expect.arrayContaining([expect.stringMatching(/^\/order\/status: must be string/)]),
    );
  });

  it("when an error is answered, then it is read as the document's Error, with open debug details", () => {
    const error = {
      code: "invalid_argument",
      message: "id: must be a valid UUID",
      details: [{ type: "google.rpc.ErrorInfo", value: "CgE", debug: { reason: "X", domain: "bazaar" } }],
    };
    expect(answerViolations(answer("/v1/products/x", error, 400))).toEqual([]);
    expect(answerViolations(answer("/v1/products/x", { ...error, code: "bad" }, 400))).toEqual([
      expect.stringMatching(/^\/code: must be equal to one of the allowed values \[enum at /),
    ]);
    // No operation at all: still the document's Error.
    expect(answerViolations(answer("/v1/nothing-here", { code: "not_found", message: "no route" }, 404))).toEqual([]);
  });

  it("when the content type is not a documented one, then that is the violation", () => {
    expect(answerViolations({ ...answer("/v1/categories", "<html>"), contentType: "text/html" })).toEqual([
      "content-type text/html is not one of the documented application/json",
    ]);
  });

  it("when a line of the order watch has a stray member, then it is refused", () => {
    expect(lineViolations("GET", "/v1/orders:watch", { result: { resumeToken: "t" } })).toEqual([]);
    expect(lineViolations("GET", "/v1/orders:watch", { result: {}, extra: 1 })).toEqual([
      expect.stringMatching(/^\(the body\): must NOT have unevaluated properties "extra"/),
    ]);
  });
});
