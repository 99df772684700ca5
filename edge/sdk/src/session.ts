// The signed-in session: sign in, keep the tokens (TokenStorage), put the access token on every
// call that needs one, and when the edge answers UNAUTHENTICATED (the token expired), refresh
// once and call again, transparently. Refreshes are single-flight: a burst of calls that all
// fail with the same expired token waits for one RefreshToken, then each calls again once —
// refresh tokens are single-use and rotated, so a second refresh with the same token would
// revoke the whole session (proto/bazaar/auth/v1/auth.proto, RefreshToken).
import { timestampDate } from "@bufbuild/protobuf/wkt";
import {
  type Client,
  Code,
  ConnectError,
  type Interceptor,
  type StreamRequest,
  type StreamResponse,
} from "@connectrpc/connect";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type {
  AuthService,
  LoginRequestSchema,
  LoginResponse,
  RegisterRequestSchema,
  RegisterResponse,
  Tokens,
} from "../../../gen/bazaar/auth/v1/auth_pb.ts";
import { errorInfoOf, type ErrorReason } from "./error-reasons.ts";
import type { StoredTokens, TokenStorage } from "./token-storage.ts";

/**
 * AuthService RPCs that never carry the access token: they either make one or need none, and
 * the edge refuses an expired token even on calls that need none.
 */
const tokenFreeRpcs: ReadonlySet<string> = new Set([
  "Register",
  "Login",
  "RefreshToken",
  "Logout",
  "RequestPasswordReset",
  "ResetPassword",
  "VerifyEmail",
  "GetJwks",
]);
const authServiceName = "bazaar.auth.v1.AuthService";

/** UNAUTHENTICATED answers a new access token cannot fix. */
const notFixedByRefresh: ReadonlySet<ErrorReason> = new Set<ErrorReason>([
  "INVALID_CREDENTIALS",
  "ACCOUNT_DEACTIVATED",
  "REFRESH_TOKEN_INVALID",
  "SIGN_IN_REQUIRED",
]);

export interface SessionOptions {
  /** An AuthService client without the session's interceptor (Login, RefreshToken, Logout). */
  auth: Client<typeof AuthService>;
  storage: TokenStorage;
  /** Told when the session ends without signOut(): its refresh token was refused. */
  onEnded?: (error: ConnectError) => void;
}

export interface Session {
  /** Signs in with e-mail and password and keeps the tokens. */
  signIn(request: MessageInitShape<typeof LoginRequestSchema>): Promise<LoginResponse>;
  /** Creates an account, signed in. */
  register(request: MessageInitShape<typeof RegisterRequestSchema>): Promise<RegisterResponse>;
  /** Ends the session on the server (its whole refresh-token family) and forgets the tokens. */
  signOut(): Promise<void>;
  /** The tokens held now, read from the storage the first time. */
  tokens(): Promise<StoredTokens | undefined>;
  /** Adopts tokens obtained elsewhere (a Register made by another client). */
  useTokens(tokens: Tokens | StoredTokens): Promise<void>;
  /**
   * A new access token for one that was refused. When the tokens held already differ from
   * `refusedAccessToken`, another call refreshed meanwhile and those are returned; while a
   * refresh is on its way, every caller waits for it. Refused refresh: the tokens are cleared
   * and the error is thrown.
   */
  refresh(refusedAccessToken: string): Promise<StoredTokens>;
  /** Puts the access token on calls and refreshes it once when a call is refused. */
  readonly interceptor: Interceptor;
}

export function createSession(options: SessionOptions): Session {
  const { auth, storage } = options;
  let held: StoredTokens | undefined;
  let loading: Promise<void> | undefined;
  let refreshing: Promise<StoredTokens> | undefined;
  // Bumped by every sign-in and sign-out: a refresh that was on its way for an older session
  // must not bring that session back.
  let generation = 0;

  const load = () =>
    (loading ??= Promise.resolve(storage.load()).then((stored) => {
      // A sign-in that finished while the storage was read wins.
      if (generation === 0) held = stored;
    }));

  const keep = async (tokens: StoredTokens | undefined) => {
    held = tokens;
    if (tokens) await storage.save(tokens);
    else await storage.clear();
  };

  const refresh = async (refusedAccessToken: string): Promise<StoredTokens> => {
    await load();
    if (!held) throw new ConnectError("signed out", Code.Unauthenticated);
    if (held.accessToken !== refusedAccessToken) return held;
    if (refreshing) return refreshing;
    const started = generation;
    const { refreshToken } = held;
    refreshing = (async () => {
      try {
        const { tokens } = await auth.refreshToken({ refreshToken });
        if (generation !== started) throw new ConnectError("signed out during the refresh", Code.Unauthenticated);
        const next = storedTokensOf(tokens!);
        await keep(next);
        return next;
      } catch (error) {
        const refused = ConnectError.from(error);
        // Refused (rotated, revoked, expired): the session is over. Anything else (the edge
        // unreachable) keeps the tokens for the next call to try again.
        if (refused.code === Code.Unauthenticated && generation === started) {
          generation++;
          await keep(undefined);
          options.onEnded?.(refused);
        }
        throw error;
      } finally {
        refreshing = undefined;
      }
    })();
    return refreshing;
  };

  const start = async (tokens: Tokens | undefined) => {
    generation++;
    await keep(tokens ? storedTokensOf(tokens) : undefined);
  };

  const interceptor: Interceptor = (next) => async (request) => {
    if (request.service.typeName === authServiceName && tokenFreeRpcs.has(request.method.name)) return next(request);
    await load();
    const sent = held?.accessToken;
    if (!sent) return next(request);
    request.header.set("authorization", `Bearer ${sent}`);
    if (!request.stream) {
      try {
        return await next(request);
      } catch (error) {
        if (!refreshMayHelp(error)) throw error;
        request.header.set("authorization", `Bearer ${(await refresh(sent)).accessToken}`);
        return next(request);
      }
    }
    // A server stream: its request message is iterable once, so keep it to send it again; the
    // refusal may come with the response's headers or as the stream's first (and only) item.
    const messages: unknown[] = [];
    for await (const message of request.message) messages.push(message);
    const attempt = (accessToken: string) => {
      request.header.set("authorization", `Bearer ${accessToken}`);
      return next({ ...request, message: iterate(messages) } as StreamRequest) as Promise<StreamResponse>;
    };
    let response: StreamResponse;
    try {
      response = await attempt(sent);
    } catch (error) {
      if (!refreshMayHelp(error)) throw error;
      return attempt((await refresh(sent)).accessToken);
    }
    const first = response;
    const retried: StreamResponse = {
      ...first,
      message: (async function* () {
        let received = false;
        try {
          for await (const message of first.message) {
            received = true;
            yield message;
          }
        } catch (error) {
          if (received || !refreshMayHelp(error)) throw error;
          const again = await attempt((await refresh(sent)).accessToken);
          yield* again.message;
        }
      })(),
    };
    return retried;
  };

  return {
    async signIn(request) {
      const response = await auth.login(request);
      await start(response.tokens);
      return response;
    },
    async register(request) {
      const response = await auth.register(request);
      await start(response.tokens);
      return response;
    },
    async signOut() {
      await load();
      const refreshToken = held?.refreshToken;
      await start(undefined);
      if (refreshToken) await auth.logout({ refreshToken });
    },
    async tokens() {
      await load();
      return held;
    },
    async useTokens(tokens) {
      generation++;
      await keep("$typeName" in tokens ? storedTokensOf(tokens) : tokens);
    },
    refresh,
    interceptor,
  };
}

function refreshMayHelp(error: unknown): boolean {
  const refused = ConnectError.from(error);
  if (refused.code !== Code.Unauthenticated) return false;
  const reason = errorInfoOf(refused)?.reason;
  return reason === undefined || !notFixedByRefresh.has(reason);
}

export function storedTokensOf(tokens: Tokens): StoredTokens {
  return {
    accessToken: tokens.accessToken,
    refreshToken: tokens.refreshToken,
    accessExpireTime: tokens.accessExpireTime ? timestampDate(tokens.accessExpireTime).toISOString() : undefined,
    refreshExpireTime: tokens.refreshExpireTime ? timestampDate(tokens.refreshExpireTime).toISOString() : undefined,
  };
}

async function* iterate<T>(items: T[]): AsyncIterable<T> {
  yield* items;
}
