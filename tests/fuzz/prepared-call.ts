// What a generated case turns into when it is sent: the HTTP call and the facts its answer is
// judged by. Cases name tokens by role and methods by path; the context fills in the mesh's
// actual addresses and tokens at send time.
import type { ServiceName } from "../../services/kit/config.ts";
import type { HttpCall } from "./exchange.ts";
import type { Role } from "./headers.ts";
import type { CallFacts } from "./verdict.ts";

export interface SendContext {
  /** http://host:port of the edge. */
  edgeOrigin: string;
  /** http://host:port of each service's gRPC server. */
  serviceOrigins: Record<ServiceName, string>;
  tokens: Record<Role, string>;
}

export interface PreparedCall {
  call: HttpCall;
  facts: Omit<CallFacts, "answerWithinMs" | "head">;
}

/** The path of an RPC as gRPC and Connect route it. */
export const rpcPath = (method: { parent: { typeName: string }; name: string }) =>
  `/${method.parent.typeName}/${method.name}`;
