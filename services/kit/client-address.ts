// The address of the client behind a call, for throttling and audit. X-Forwarded-For is believed
// only as far as it was written by proxies we trust: walking it from the right, the first
// address that is not a trusted proxy is the client. Anything else in it could be forged.
import { BlockList, isIP } from "node:net";
import type { HandlerContext } from "@connectrpc/connect";
import { ConfigError } from "./config.ts";
import { GrpcHandlerContext } from "./grpc-context.ts";

/** The proxies whose X-Forwarded-For is believed. */
export interface TrustedProxies {
  has(address: string): boolean;
}

/**
 * Trusted proxies from addresses and CIDR ranges ("10.0.0.0/8", "fd00::/8"): in Kubernetes the
 * edge's pods change addresses, so auth trusts the pod network's range rather than each pod.
 * An IPv4 address seen as IPv4-mapped IPv6 (::ffff:10.0.0.2) matches its IPv4 entry.
 */
export function trustedProxies(entries: string[], variable: string): TrustedProxies {
  // The edge's default: nobody is trusted, and the check per request costs nothing.
  if (entries.length === 0) return { has: () => false };
  const list = new BlockList();
  for (const entry of entries) {
    const [address = "", prefix] = entry.split("/");
    const family = isIP(address) === 4 ? "ipv4" : isIP(address) === 6 ? "ipv6" : undefined;
    const bits = prefix === undefined ? undefined : Number(prefix);
    const maxBits = family === "ipv4" ? 32 : 128;
    if (!family || (bits !== undefined && !(Number.isInteger(bits) && bits >= 0 && bits <= maxBits))) {
      throw new ConfigError(`${variable} must list IP addresses or CIDR ranges, got "${entry}"`);
    }
    if (bits === undefined) list.addAddress(address, family);
    else list.addSubnet(address, bits, family);
  }
  return {
    has(address) {
      const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
      const candidate = mapped ?? address;
      const family = isIP(candidate);
      return family !== 0 && list.check(candidate, family === 4 ? "ipv4" : "ipv6");
    },
  };
}

export function clientAddressOf(ctx: HandlerContext, trustedProxies: TrustedProxies): string {
  const peer = ctx instanceof GrpcHandlerContext ? ctx.peerAddress : "unknown";
  return clientAddressFrom(peer, ctx.requestHeader.get("x-forwarded-for"), trustedProxies);
}

/** The client behind a connection from `peer` that brought the X-Forwarded-For `forwardedFor`. */
export function clientAddressFrom(
  peer: string,
  forwardedFor: string | null | undefined,
  trustedProxies: TrustedProxies,
): string {
  if (!trustedProxies.has(peer)) return peer;
  const forwarded = (forwardedFor ?? "")
    .split(",")
    .map((part) => part.trim())
    .filter(Boolean);
  for (let i = forwarded.length - 1; i >= 0; i--) {
    if (!trustedProxies.has(forwarded[i]!)) return forwarded[i]!;
  }
  return forwarded[0] ?? peer;
}
