// A service's handlers served in memory, the way serve() runs them over grpc-js in production:
// the access rules and the caller on the context (createAuthHook), protovalidate, the handler,
// and the same translation of whatever it throws into what goes on the wire. The transport is
// connect's createRouterTransport: no port, no process, a call costs microseconds.
import { randomUUID } from "node:crypto";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { createValidator } from "@bufbuild/protovalidate";
import {
  createClient,
  createRouterTransport,
  type Client,
  type HandlerContext,
  type Transport,
} from "@connectrpc/connect";
import { createAuthHook, DenyList, type AccessRule, type TokenVerifier } from "../auth.ts";
import { createLogger, type Logger } from "../log.ts";
import { requestIdKey, requestValidation, toWireError, type RequestHook, type ServiceBinding } from "../serve.ts";

export interface InMemoryServeOptions {
  /** What the service's main.ts binds, built with `bind` from the same factories. */
  services: ServiceBinding[];
  /** The service's access rules, as main.ts passes them. */
  rules: Map<string, AccessRule>[];
  /** Verifies the bearer tokens of calls (see testing/tokens.ts). */
  verifier: TokenVerifier;
  /** Users deactivated since their tokens were issued. */
  denyList?: DenyList;
  /** Where internal errors are logged; silent by default. */
  log?: Logger;
}

export interface InMemoryServer {
  transport: Transport;
  client<S extends DescService>(service: S): Client<S>;
}

type AnyHandler = (request: unknown, ctx: HandlerContext) => any;

export function serveInMemory(options: InMemoryServeOptions): InMemoryServer {
  const log = options.log ?? createLogger("in-memory", "silent");
  const authHook = createAuthHook({
    verifier: options.verifier,
    rules: new Map(options.rules.flatMap((rules) => [...rules])),
    denyList: options.denyList ?? new DenyList(),
  });
  const validator = createValidator();
  const transport = createRouterTransport((router) => {
    for (const binding of options.services) {
      const impl: Record<string, AnyHandler> = {};
      for (const method of binding.service.methods) {
        const handler = binding.impl[method.localName];
        if (!handler) throw new Error(`${binding.service.typeName} has no implementation of ${method.name}`);
        impl[method.localName] = asServed(method, handler.bind(binding.impl), requestValidation(method, validator), [
          authHook,
        ]);
      }
      router.service(binding.service, impl as never);
    }
  });

  // The order of serve(): hooks, validation, handler; every error through toWireError.
  function asServed(
    method: DescMethod,
    handler: AnyHandler,
    validate: (message: unknown) => Promise<unknown>,
    hooks: RequestHook[],
  ): AnyHandler {
    const prepare = async (request: unknown, ctx: HandlerContext) => {
      ctx.values.set(requestIdKey, ctx.requestHeader.get("x-request-id") ?? randomUUID());
      for (const hook of hooks) await hook(ctx);
      return validate(request);
    };
    switch (method.methodKind) {
      case "unary":
        return async (request, ctx) => {
          try {
            return await handler(await prepare(request, ctx), ctx);
          } catch (error) {
            throw toWireError(error, ctx, log);
          }
        };
      case "server_streaming":
        return async function* (request, ctx) {
          try {
            yield* handler(await prepare(request, ctx), ctx) as AsyncIterable<unknown>;
          } catch (error) {
            throw toWireError(error, ctx, log);
          }
        };
      default:
        throw new Error(`${method.name}: ${method.methodKind} methods are not served in memory yet`);
    }
  }

  return { transport, client: (service) => createClient(service, transport) };
}
