// @bazaar/sdk: typed clients of Bazaar's public API, a session that keeps and refreshes tokens,
// retries of side-effect-free calls, resumable watches and the error reasons. The messages and
// enums of each API are in the subpaths: `@bazaar/sdk/order`, `/auth`, `/cart`, `/product`,
// `/notification`, `/admin`, `/payment`, `/common`; token storage in a file: `@bazaar/sdk/node`.
export { Code, ConnectError } from "@connectrpc/connect";
export {
  type Bazaar,
  type BazaarClients,
  type BazaarOptions,
  createBazaar,
  type PublicServices,
  publicServices,
} from "./clients.ts";
export {
  ErrorReason,
  errorDomain,
  errorInfoOf,
  errorReasons,
  hasReason,
  type ReasonedError,
  type ReasonMetadata,
  reasonMetadata,
} from "./error-reasons.ts";
export { defaultRetryCodes, isSideEffectFree, type RetryOptions, retryInterceptor } from "./retry.ts";
export { createSession, type Session, type SessionOptions, storedTokensOf } from "./session.ts";
export {
  browserTokenStorage,
  type KeyValueStore,
  memoryTokenStorage,
  parseStoredTokens,
  type StoredTokens,
  type TokenStorage,
} from "./token-storage.ts";
export { type FollowOptions, followStream, type ResumableUpdate } from "./watch.ts";
