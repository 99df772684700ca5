import { describe, expect, it } from "vitest";
import { trustedProxies } from "../services/kit/client-address.ts";
import { forwardedForBackend } from "./forward.ts";

const loadBalancer = trustedProxies(["10.0.0.0/8"], "TEST_TRUSTED_PROXIES");

describe("the X-Forwarded-For the edge sends on", () => {
  it("when the peer is a trusted proxy, then the client's header is kept and the peer appended", () => {
    expect(forwardedForBackend("10.1.2.3", "198.51.100.7", loadBalancer)).toBe("198.51.100.7, 10.1.2.3");
    expect(forwardedForBackend("::ffff:10.1.2.3", "198.51.100.7", loadBalancer)).toBe("198.51.100.7, ::ffff:10.1.2.3");
  });

  it("when the peer is not a trusted proxy, then whatever the client wrote is replaced by the peer", () => {
    expect(forwardedForBackend("203.0.113.9", "198.51.100.7, 10.0.0.1", loadBalancer)).toBe("203.0.113.9");
    expect(forwardedForBackend("127.0.0.1", "198.51.100.7", trustedProxies([], "TEST_TRUSTED_PROXIES"))).toBe(
      "127.0.0.1",
    );
  });

  it("when the client sent no header, then the peer alone; when there is no peer, then nothing", () => {
    expect(forwardedForBackend("10.1.2.3", undefined, loadBalancer)).toBe("10.1.2.3");
    expect(forwardedForBackend("", "198.51.100.7", loadBalancer)).toBe("");
  });
});
