// Errors with reasons, in memory: what a handler builds, and what survives the gRPC status
// encoding a mesh hop puts it through (both directions of grpc-status.ts).
import { create } from "@bufbuild/protobuf";
import type { ServiceError } from "@grpc/grpc-js";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { ErrorInfoSchema, PreconditionFailureSchema, RetryInfoSchema } from "../../gen/google/rpc/error_details_pb.ts";
import { errorInfoOf, rateLimitedError, reasonedError } from "./error-info.ts";
import { errorDomain, errorReasons } from "./error-reasons.ts";
import { connectErrorFromGrpc, grpcStatusFromError } from "./grpc-status.ts";

const productId = "0193a000-0000-7000-8000-0000000000aa";

function outOfStock(): ConnectError {
  const violations = [{ type: "STOCK", subject: productId, description: "requested 3, available 1" }];
  return reasonedError(
    "OUT_OF_STOCK",
    `not enough stock for ${productId}`,
    { product_id: productId, product_ids: productId, requested: "3", available: "1" },
    { details: [{ desc: PreconditionFailureSchema, value: create(PreconditionFailureSchema, { violations }) }] },
  );
}

/** The error as the next hop's client sees it: encoded as grpc-js trailers, then decoded. */
function acrossAHop(error: ConnectError): ConnectError {
  const status = grpcStatusFromError(error);
  const serviceError = Object.assign(new Error(status.details), status) as ServiceError;
  return connectErrorFromGrpc(serviceError);
}

describe("errors with a reason", () => {
  it("when a handler builds one, then it has the reason's code and ErrorInfo first, in domain bazaar", () => {
    const error = outOfStock();
    expect(error.code).toBe(Code.FailedPrecondition);
    expect(error.rawMessage).toBe(`not enough stock for ${productId}`);
    expect(error.details[0]).toMatchObject({ desc: ErrorInfoSchema });
    expect(error.findDetails(ErrorInfoSchema)[0]).toMatchObject({
      reason: "OUT_OF_STOCK",
      domain: "bazaar",
      metadata: { product_id: productId, product_ids: productId, requested: "3", available: "1" },
    });
  });

  it("when it carries other details, then they are kept after the ErrorInfo", () => {
    expect(outOfStock().findDetails(PreconditionFailureSchema)[0]?.violations[0]?.subject).toBe(productId);
  });

  it("when a client is rate limited, then RATE_LIMITED says the wait in its metadata, in RetryInfo and in retry-after", () => {
    const error = rateLimitedError("too many requests, retry in 7 s", 7, "user");
    expect(error.code).toBe(Code.ResourceExhausted);
    expect(errorInfoOf(error)).toEqual({
      reason: "RATE_LIMITED",
      metadata: { retry_after_seconds: "7", scope: "user" },
    });
    expect(error.findDetails(RetryInfoSchema)[0]?.retryDelay?.seconds).toBe(7n);
    expect(error.metadata.get("retry-after")).toBe("7");
  });

  it("when the error crosses a mesh hop, then reason, metadata, other details, code and message arrive intact", () => {
    const received = acrossAHop(outOfStock());
    expect(received.code).toBe(Code.FailedPrecondition);
    expect(received.rawMessage).toBe(`not enough stock for ${productId}`);
    expect(errorInfoOf(received)?.reason).toBe("OUT_OF_STOCK");
    expect(errorInfoOf(received)?.metadata.available).toBe("1");
    expect(received.findDetails(PreconditionFailureSchema)[0]?.violations[0]?.subject).toBe(productId);
  });

  it("when a service passes a downstream error on, then its details cross the next hop too", () => {
    const twice = acrossAHop(acrossAHop(rateLimitedError("slow down", 3, "sign_in")));
    expect(errorInfoOf(twice)).toEqual({
      reason: "RATE_LIMITED",
      metadata: { retry_after_seconds: "3", scope: "sign_in" },
    });
    expect(twice.findDetails(RetryInfoSchema)[0]?.retryDelay?.seconds).toBe(3n);
  });

  it("when an error has no ErrorInfo, or one of another domain, then it has no Bazaar reason", () => {
    expect(errorInfoOf(new ConnectError("gone", Code.NotFound))).toBeUndefined();
    expect(errorInfoOf(new Error("plain"))).toBeUndefined();
    const foreign = new ConnectError("quota", Code.ResourceExhausted, undefined, [
      {
        desc: ErrorInfoSchema,
        value: create(ErrorInfoSchema, { reason: "RATE_LIMIT_EXCEEDED", domain: "googleapis.com" }),
      },
    ]);
    expect(errorInfoOf(foreign)).toBeUndefined();
    expect(acrossAHop(new ConnectError("gone", Code.NotFound)).details).toEqual([]);
  });
});

describe("the list of reasons", () => {
  it("names each reason in UPPER_SNAKE_CASE with snake_case metadata keys, a client's code and a meaning", () => {
    expect(errorDomain).toBe("bazaar");
    for (const [reason, spec] of Object.entries(errorReasons)) {
      expect(reason).toMatch(/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/);
      expect(reason.length).toBeLessThanOrEqual(63);
      for (const key of spec.metadata) expect(key).toMatch(/^[a-z][a-z0-9]*(_[a-z0-9]+)*$/);
      // A reason is for errors a client can act on: never a server fault.
      expect([Code.Unknown, Code.Internal, Code.DataLoss, Code.Unavailable]).not.toContain(spec.code);
      expect(spec.meaning.length).toBeGreaterThan(10);
    }
  });
});
