// The address of the client behind a call, for throttling and audit. X-Forwarded-For is believed
// only as far as it was written by proxies we trust: walking it from the right, the first
// address that is not a trusted proxy is the client. Anything else in it could be forged.
import type { HandlerContext } from "@connectrpc/connect";
import { GrpcHandlerContext } from "./grpc-context.ts";

export function clientAddressOf(ctx: HandlerContext, trustedProxies: ReadonlySet<string>): string {
  const peer = ctx instanceof GrpcHandlerContext ? ctx.peerAddress : "unknown";
  return clientAddressFrom(peer, ctx.requestHeader.get("x-forwarded-for"), trustedProxies);
}

/** The client behind a connection from `peer` that brought the X-Forwarded-For `forwardedFor`. */
export function clientAddressFrom(peer: string, forwardedFor: string | null | undefined, trustedProxies: ReadonlySet<string>): string {
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
