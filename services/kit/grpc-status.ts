// Translation between ConnectError (what handlers throw and clients see) and gRPC status as
// grpc-js carries it. Error details travel as google.rpc.Status in `grpc-status-details-bin`,
// the same encoding connect-es and every other gRPC stack uses, so a detail (for example the
// field violations of INVALID_ARGUMENT) survives any number of hops.
import { Metadata, type ServiceError } from "@grpc/grpc-js";
import { Code, ConnectError } from "@connectrpc/connect";
import { findTrailerError, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";

const detailsKey = "grpc-status-details-bin";
// Headers grpc-js writes itself, or that would confuse the peer if copied from an error.
const reservedKeys = new Set(["grpc-status", "grpc-message", detailsKey, "content-type", "te"]);

export interface GrpcErrorStatus {
  code: number;
  details: string;
  metadata: Metadata;
}

/** The gRPC status for an error raised by a handler. Connect codes equal gRPC codes. */
export function grpcStatusFromError(error: ConnectError): GrpcErrorStatus {
  const metadata = new Metadata();
  error.metadata.forEach((value, key) => {
    if (!reservedKeys.has(key) && !key.endsWith("-bin")) metadata.add(key, value);
  });
  const encodedDetails = setTrailerStatus(new Headers(), error).get(detailsKey);
  if (encodedDetails) metadata.set(detailsKey, Buffer.from(encodedDetails, "base64"));
  return { code: error.code, details: error.rawMessage, metadata };
}

/** The ConnectError for a failed grpc-js call, with the server's details decoded. */
export function connectErrorFromGrpc(error: ServiceError): ConnectError {
  const trailer = headersFromMetadata(error.metadata ?? new Metadata());
  trailer.set("grpc-status", String(error.code));
  trailer.set("grpc-message", encodeURIComponent(error.details ?? ""));
  const decoded = trailer.has(detailsKey) ? findTrailerError(trailer) : undefined;
  if (decoded) return decoded;
  const code: Code = error.code > 0 && error.code <= Code.Unauthenticated ? (error.code as number) : Code.Unknown;
  return new ConnectError(error.details ?? "", code, trailer);
}

/** Metadata as fetch-style Headers; binary values are base64, as on the wire. */
export function headersFromMetadata(metadata: Metadata): Headers {
  const headers = new Headers();
  for (const [key, values] of Object.entries(metadata.toJSON())) {
    for (const value of values) {
      headers.append(key, typeof value === "string" ? value : Buffer.from(value).toString("base64"));
    }
  }
  return headers;
}

/** Headers as grpc-js Metadata, for the headers a handler or client sets. */
export function metadataFromHeaders(headers: Headers): Metadata {
  const metadata = new Metadata();
  headers.forEach((value, key) => {
    if (reservedKeys.has(key)) return;
    if (key.endsWith("-bin")) metadata.add(key, Buffer.from(value, "base64"));
    else metadata.add(key, value);
  });
  return metadata;
}
