// The outcome an answer carries, in whichever protocol it came: gRPC status in headers or
// trailers, gRPC-Web's trailer frame (binary or base64 text), Connect's end-stream message,
// the Connect/REST JSON error, or NDJSON error lines. Codes are Connect's snake_case names.
import { brotliDecompressSync, gunzipSync, inflateSync } from "node:zlib";
import { codeFromString, codeToString } from "@connectrpc/connect/protocol-connect";
import type { Answer } from "./exchange.ts";

export interface AnswerStatus {
  /** "ok", a Connect code name, or undefined when the answer carries none (plain HTTP). */
  code: string | undefined;
  /** The error message as sent, for the leak check. */
  message: string;
  /** The code was a number or name no protocol defines. */
  malformed: boolean;
}

export function statusOf(answer: Answer): AnswerStatus {
  const contentType = answer.headers["content-type"] ?? "";
  if (contentType.startsWith("application/grpc-web"))
    return grpcWebStatus(answer, contentType.includes("text"), answer.headers["grpc-encoding"]);
  if (contentType.startsWith("application/grpc")) return grpcStatus({ ...answer.headers, ...answer.trailers });
  if (contentType.startsWith("application/connect+"))
    return connectEndStream(answer, answer.headers["connect-content-encoding"]);
  if (contentType.startsWith("application/x-ndjson")) return ndjsonStatus(answer.body);
  if (contentType.startsWith("application/json") && answer.status !== 200)
    return jsonError(answer.body, answer.headers["content-encoding"]);
  if (answer.status === 200 && /^application\/(json|proto)/.test(contentType))
    return { code: "ok", message: "", malformed: false };
  return { code: undefined, message: answer.body.subarray(0, 2_000).toString("utf8"), malformed: false };
}

function grpcStatus(fields: Record<string, string>): AnswerStatus {
  const status = fields["grpc-status"];
  const message = decodeURIComponentSafe(fields["grpc-message"] ?? "");
  if (status === undefined) return { code: undefined, message, malformed: false };
  const number = Number(status);
  const known = /^\d{1,2}$/.test(status) && number <= 16;
  return { code: known ? (number === 0 ? "ok" : codeToString(number)) : status, message, malformed: !known };
}

function grpcWebStatus(answer: Answer, text: boolean, encoding: string | undefined): AnswerStatus {
  if (answer.headers["grpc-status"] !== undefined) return grpcStatus(answer.headers);
  const body = text ? Buffer.from(answer.body.toString("latin1"), "base64") : answer.body;
  for (const frame of envelopes(body)) {
    if ((frame.flags & 0x80) === 0) continue;
    const fields: Record<string, string> = {};
    let payload: Buffer;
    try {
      payload = payloadOf(frame, encoding);
    } catch {
      return { code: undefined, message: "undecompressable trailer frame", malformed: true };
    }
    for (const line of payload.toString("latin1").split("\r\n")) {
      const colon = line.indexOf(":");
      if (colon > 0) fields[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    return grpcStatus(fields);
  }
  return { code: undefined, message: "", malformed: false };
}

function connectEndStream(answer: Answer, encoding: string | undefined): AnswerStatus {
  for (const frame of envelopes(answer.body)) {
    if ((frame.flags & 0x02) === 0) continue;
    try {
      const end = JSON.parse(payloadOf(frame, encoding).toString("utf8")) as {
        error?: { code?: unknown; message?: unknown };
      };
      return end.error ? errorStatus(end.error) : { code: "ok", message: "", malformed: false };
    } catch {
      return { code: undefined, message: "unreadable end-stream message", malformed: true };
    }
  }
  return { code: undefined, message: "", malformed: false };
}

function ndjsonStatus(body: Buffer): AnswerStatus {
  for (const line of body.toString("utf8").split("\n")) {
    if (!line.startsWith('{"error"')) continue;
    try {
      return errorStatus((JSON.parse(line) as { error: { code?: unknown; message?: unknown } }).error);
    } catch {
      return { code: undefined, message: line, malformed: true };
    }
  }
  return { code: "ok", message: "", malformed: false };
}

function jsonError(body: Buffer, encoding: string | undefined): AnswerStatus {
  // A HEAD answer has the headers of an error and no body.
  if (body.length === 0) return { code: undefined, message: "", malformed: false };
  try {
    return errorStatus(
      JSON.parse(decompressed(body, encoding).toString("utf8")) as { code?: unknown; message?: unknown },
    );
  } catch {
    return { code: undefined, message: body.subarray(0, 2_000).toString("utf8"), malformed: true };
  }
}

function errorStatus(error: { code?: unknown; message?: unknown }): AnswerStatus {
  const code = typeof error.code === "string" ? error.code : String(error.code);
  return {
    code,
    message: typeof error.message === "string" ? error.message : "",
    malformed: codeFromString(code) === undefined,
  };
}

/** A frame's payload, decompressed when its flag says so (large trailers and end messages are). */
function payloadOf(frame: { flags: number; payload: Buffer }, encoding: string | undefined): Buffer {
  if ((frame.flags & 0x01) === 0) return frame.payload;
  if (encoding === undefined || encoding === "identity") throw new Error("a compressed frame without an encoding");
  return decompressed(frame.payload, encoding);
}

/** Bytes in a content coding, decoded; an answer to a compressed request may come compressed. */
function decompressed(bytes: Buffer, encoding: string | undefined): Buffer {
  if (encoding === "gzip") return gunzipSync(bytes);
  if (encoding === "deflate") return inflateSync(bytes);
  if (encoding === "br") return brotliDecompressSync(bytes);
  return bytes;
}

/** The frames of an enveloped body, stopping at the first incomplete one. */
function* envelopes(body: Buffer): Generator<{ flags: number; payload: Buffer }> {
  let offset = 0;
  while (offset + 5 <= body.length) {
    const length = body.readUInt32BE(offset + 1);
    if (offset + 5 + length > body.length) return;
    yield { flags: body[offset]!, payload: body.subarray(offset + 5, offset + 5 + length) };
    offset += 5 + length;
  }
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
