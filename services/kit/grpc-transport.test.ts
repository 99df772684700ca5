import { describe, expect, it } from "vitest";
import { channelTarget } from "./grpc-transport.ts";

describe("channelTarget", () => {
  it("when the address names one replica or a DNS name, then grpc-js gets it as it is", () => {
    expect(channelTarget("127.0.0.1:50052")).toBe("127.0.0.1:50052");
    expect(channelTarget("dns:///product:50052")).toBe("dns:///product:50052");
  });

  it("when it lists replicas of one address family, then grpc-js gets that family's static list", () => {
    expect(channelTarget("127.0.0.1:50052,127.0.0.1:50152")).toBe("ipv4:127.0.0.1:50052,127.0.0.1:50152");
    expect(channelTarget("[::1]:50052,[::1]:50152")).toBe("ipv6:[::1]:50052,[::1]:50152");
  });

  it("when it mixes IPv4 and IPv6 replicas, then it is refused with the address", () => {
    expect(() => channelTarget("127.0.0.1:50052,[::1]:50152")).toThrow(
      'not a list of IPv4 or of IPv6 replicas: "127.0.0.1:50052,[::1]:50152"',
    );
  });
});
