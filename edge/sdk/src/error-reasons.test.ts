// The SDK's copy of the reasons against the services' list: same names, codes and metadata keys.
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../../gen/google/rpc/error_details_pb.ts";
import { errorDomain as servicesDomain, errorReasons as servicesReasons } from "../../../services/kit/error-reasons.ts";
import { ErrorReason, errorDomain, errorInfoOf, errorReasons, hasReason, reasonMetadata } from "./error-reasons.ts";

describe("the SDK's error reasons", () => {
  it("when compared with the services' list, then every reason has the same code and metadata keys", () => {
    const asServices = Object.fromEntries(
      Object.entries(servicesReasons).map(([name, spec]) => [name, { code: spec.code, metadata: [...spec.metadata] }]),
    );
    const asSdk = Object.fromEntries(
      Object.entries(errorReasons).map(([name, spec]) => [name, { code: spec.code, metadata: [...spec.metadata] }]),
    );
    expect(asSdk).toEqual(asServices);
    expect(errorDomain).toBe(servicesDomain);
    expect(Object.values(ErrorReason)).toEqual(Object.keys(servicesReasons));
  });

  it("when an error carries a Bazaar ErrorInfo, then its reason and metadata are read from it", () => {
    const error = new ConnectError("short", Code.FailedPrecondition, undefined, [
      {
        desc: ErrorInfoSchema,
        value: {
          reason: "OUT_OF_STOCK",
          domain: "bazaar",
          metadata: { product_id: "p1", product_ids: "p1", requested: "3", available: "1" },
        },
      },
    ]);

    expect(errorInfoOf(error)).toEqual({
      reason: "OUT_OF_STOCK",
      code: Code.FailedPrecondition,
      message: "short",
      metadata: { product_id: "p1", product_ids: "p1", requested: "3", available: "1" },
    });
    expect(hasReason(error, ErrorReason.OUT_OF_STOCK)).toBe(true);
    expect(reasonMetadata(error, ErrorReason.OUT_OF_STOCK)?.available).toBe("1");
    expect(reasonMetadata(error, ErrorReason.CART_EMPTY)).toBeUndefined();
  });

  it("when the ErrorInfo is of another domain, or there is none, then there is no reason", () => {
    const foreign = new ConnectError("x", Code.Internal, undefined, [
      { desc: ErrorInfoSchema, value: { reason: "OUT_OF_STOCK", domain: "example.com" } },
    ]);
    expect(errorInfoOf(foreign)).toBeUndefined();
    expect(errorInfoOf(new ConnectError("x", Code.Internal))).toBeUndefined();
    expect(errorInfoOf(new Error("x"))).toBeUndefined();
  });
});
