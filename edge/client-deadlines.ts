// A client may give a deadline longer than a Node timer can hold (2^31-1 ms, about 24.8 days):
// gRPC allows "99999999H", Connect up to ten digits of milliseconds. connect-node arms a timer
// with it as given, which Node fires after 1 ms with a TimeoutOverflowWarning, so the call would
// end at once as deadline_exceeded. Such a deadline means "no hurry": the edge shortens it to
// the longest a timer holds before connect-node reads it.
import type { ConnectRouter } from "@connectrpc/connect";
import type { UniversalServerRequest } from "@connectrpc/connect/protocol";

const longestTimerMs = 2 ** 31 - 1;
const grpcUnitMs: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1_000, m: 1, u: 0.001, n: 0.000_001 };
/** The longest gRPC timeout a timer holds, in whole seconds (the grammar allows 8 digits). */
const longestGrpcTimeout = `${Math.floor(longestTimerMs / 1_000)}S`;

/** Wraps every handler registered on `router` so far. */
export function clampClientDeadlines(router: ConnectRouter): void {
  router.handlers.forEach((handler, index) => {
    router.handlers[index] = Object.assign((request: UniversalServerRequest) => handler(clamped(request)), handler);
  });
}

function clamped(request: UniversalServerRequest): UniversalServerRequest {
  const grpc = /^(\d{1,8})([HMSmun])$/.exec(request.header.get("grpc-timeout") ?? "");
  if (grpc && Number(grpc[1]) * grpcUnitMs[grpc[2]!]! > longestTimerMs)
    request.header.set("grpc-timeout", longestGrpcTimeout);
  const connect = request.header.get("connect-timeout-ms");
  if (connect !== null && /^\d{1,10}$/.test(connect) && Number(connect) > longestTimerMs)
    request.header.set("connect-timeout-ms", String(longestTimerMs));
  return request;
}
