// The access-rule matrix of a service, checked from outside: every RPC called by every kind of
// caller through the in-memory server, and what each gets. A test writes the rules down as the
// contract states them; which roles a rule admits is spelled out here, apart from the kit's
// auth hook, so a changed rule or a changed hook both fail the matrix.
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type CallOptions, type Transport } from "@connectrpc/connect";
import type { AccessRule, AccessRules } from "../auth.ts";
import type { Callers } from "./tokens.ts";

export type CallerKind = keyof Callers;
export type AccessOutcome = "gets through" | "unauthenticated" | "permission_denied";

const admits: Record<AccessRule, ReadonlySet<CallerKind>> = {
  public: new Set(["anonymous", "customer", "seller", "admin", "service"]),
  user: new Set(["customer", "seller", "admin"]),
  seller: new Set(["seller", "admin"]),
  admin: new Set(["admin"]),
  service: new Set(["service"]),
};

const article = (caller: CallerKind) => (caller === "anonymous" || caller === "admin" ? "an" : "a");

/** One row per RPC and kind of caller: [story, method, caller, what the caller gets]. */
export function accessMatrix<S extends DescService>(
  service: S,
  rules: AccessRules<S>,
): Array<[string, DescMethod, CallerKind, AccessOutcome]> {
  return service.methods.flatMap((method) => {
    const rule = (rules as Record<string, AccessRule>)[method.localName]!;
    return [...admits.public].map((caller): [string, DescMethod, CallerKind, AccessOutcome] => {
      const outcome: AccessOutcome = admits[rule].has(caller)
        ? "gets through"
        : caller === "anonymous"
          ? "unauthenticated"
          : "permission_denied";
      const who = caller === "anonymous" ? "an anonymous caller of" : `${article(caller)} ${caller} calling`;
      const gets = outcome === "gets through" ? outcome : `gets ${outcome}`;
      return [`${who} ${service.name}.${method.name} ${gets}`, method, caller, outcome];
    });
  });
}

/**
 * What a call gets from the access rules. Past them, whatever the handler answers (an answer,
 * invalid_argument for an empty request, not_found) counts as getting through; a stream that
 * is still open after a moment got through too.
 */
export async function accessOutcome(
  transport: Transport,
  method: DescMethod,
  options: CallOptions,
  request: object = {},
): Promise<AccessOutcome> {
  const client = createClient(method.parent, transport) as unknown as Record<string, (...args: unknown[]) => any>;
  try {
    if (method.methodKind === "server_streaming") {
      for await (const _ of client[method.localName]!(request, { ...options, timeoutMs: 300 })) break;
    } else {
      await client[method.localName]!(request, options);
    }
  } catch (error) {
    const { code } = ConnectError.from(error);
    if (code === Code.Unauthenticated) return "unauthenticated";
    if (code === Code.PermissionDenied) return "permission_denied";
  }
  return "gets through";
}
