// ConnectErrors that say why in google.rpc.ErrorInfo: the reason's code, ErrorInfo first among
// the details, then any others the error needs (PreconditionFailure, RetryInfo). Handlers build
// them where they map named domain errors; the edge builds its own refusals the same way. Details
// are encoded as google.rpc.Status in every protocol, so an ErrorInfo raised deep in the mesh
// reaches the client unchanged through every hop (grpc-status.ts keeps them on the way).
import { create } from "@bufbuild/protobuf";
import { ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema, RetryInfoSchema } from "../../gen/google/rpc/error_details_pb.ts";
import { errorDomain, errorReasons, type ErrorReason, type ReasonMetadata } from "./error-reasons.ts";

type Details = NonNullable<ConstructorParameters<typeof ConnectError>[3]>;

export interface ReasonedErrorOptions {
  /** Details after the ErrorInfo. */
  details?: Details;
  /** Response metadata (headers or trailers), e.g. retry-after. */
  metadata?: HeadersInit;
  cause?: unknown;
}

/** A ConnectError with `reason`'s code and an ErrorInfo { reason, domain "bazaar", metadata }. */
export function reasonedError<R extends ErrorReason>(
  reason: R,
  message: string,
  metadata: ReasonMetadata<R>,
  options: ReasonedErrorOptions = {},
): ConnectError {
  const info = create(ErrorInfoSchema, { reason, domain: errorDomain, metadata });
  return new ConnectError(
    message,
    errorReasons[reason].code,
    options.metadata,
    [{ desc: ErrorInfoSchema, value: info }, ...(options.details ?? [])],
    options.cause,
  );
}

/**
 * RATE_LIMITED: resource_exhausted with the wait as ErrorInfo metadata, as google.rpc.RetryInfo
 * and as a Retry-After header, so clients of every kind find it where they look.
 */
export function rateLimitedError(
  message: string,
  retryAfterSeconds: number,
  scope: "client_address" | "user" | "sign_in" | "account_mail",
): ConnectError {
  const seconds = String(retryAfterSeconds);
  return reasonedError(
    "RATE_LIMITED",
    message,
    { retry_after_seconds: seconds, scope },
    {
      metadata: { "retry-after": seconds },
      details: [
        {
          desc: RetryInfoSchema,
          value: create(RetryInfoSchema, { retryDelay: { seconds: BigInt(retryAfterSeconds), nanos: 0 } }),
        },
      ],
    },
  );
}

/** The Bazaar ErrorInfo of an error, whether built here or decoded from the wire; else undefined. */
export function errorInfoOf(error: unknown): { reason: string; metadata: Record<string, string> } | undefined {
  if (!(error instanceof ConnectError)) return undefined;
  const info = error.findDetails(ErrorInfoSchema).find((detail) => detail.domain === errorDomain);
  return info && { reason: info.reason, metadata: { ...info.metadata } };
}
