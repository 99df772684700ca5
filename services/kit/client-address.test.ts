import { Metadata } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { ProductService } from "../../gen/bazaar/product/v1/product_pb.ts";
import { clientAddressOf, trustedProxies } from "./client-address.ts";
import { GrpcHandlerContext } from "./grpc-context.ts";

const trusted = trustedProxies(["127.0.0.1", "10.0.0.2"], "TEST_PROXIES");

function contextFrom(peer: string, forwardedFor?: string) {
  const metadata = new Metadata();
  if (forwardedFor) metadata.set("x-forwarded-for", forwardedFor);
  const call = {
    getPeer: () => peer,
    metadata,
    getDeadline: () => Infinity,
    getPath: () => "/",
    cancelled: false,
    once() {},
  };
  return new GrpcHandlerContext(ProductService.methods[0]!, call as never);
}

describe("the client address behind a call", () => {
  it("when the peer is not a trusted proxy, then it is the client and X-Forwarded-For is ignored", () => {
    expect(clientAddressOf(contextFrom("ipv4:203.0.113.9:5000", "1.2.3.4"), trusted)).toBe("203.0.113.9");
  });

  it("when the edge forwards, then the rightmost untrusted address is the client, whatever the client forged to its left", () => {
    expect(clientAddressOf(contextFrom("ipv4:127.0.0.1:5000", "6.6.6.6, 198.51.100.7, 10.0.0.2"), trusted)).toBe(
      "198.51.100.7",
    );
  });

  it("reads IPv6 peers", () => {
    expect(clientAddressOf(contextFrom("ipv6:[2001:db8::1]:5000"), trusted)).toBe("2001:db8::1");
  });

  it("when proxies are trusted by CIDR range, then any address in the range is a proxy, mapped IPv4 included", () => {
    const podNetwork = trustedProxies(["10.244.0.0/16", "fd00::/8"], "TEST_PROXIES");
    expect(clientAddressOf(contextFrom("ipv4:10.244.3.17:5000", "198.51.100.7, 10.244.9.1"), podNetwork)).toBe(
      "198.51.100.7",
    );
    expect(clientAddressOf(contextFrom("ipv6:[::ffff:10.244.3.17]:5000", "198.51.100.8"), podNetwork)).toBe(
      "198.51.100.8",
    );
    expect(clientAddressOf(contextFrom("ipv6:[fd00::5]:5000", "2001:db8::7"), podNetwork)).toBe("2001:db8::7");
    expect(clientAddressOf(contextFrom("ipv4:10.245.0.1:5000", "198.51.100.7"), podNetwork)).toBe("10.245.0.1");
  });

  it.each(["10.0.0.0/33", "not-an-ip", "10.0.0.0/x", "fd00::/129"])(
    "when a trusted proxy entry is %j, then configuration fails naming the variable",
    (entry) => {
      expect(() => trustedProxies([entry], "BAZAAR_TRUSTED_PROXIES")).toThrow(
        /BAZAAR_TRUSTED_PROXIES must list IP addresses or CIDR ranges/,
      );
    },
  );
});
