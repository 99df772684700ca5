// Requests the edge's connect-node adapter cannot decode, answered as the client's mistake in each
// protocol's own form. Two connect-es behaviours need it:
// - It answers INTERNAL for bytes that do not decode — protobuf that does not parse ("parse
//   binary: …"), a message flagged compressed with no compression declared, a compressed message
//   cut short ("decompression failed") — in gRPC, gRPC-Web, Connect streaming and compressed
//   Connect unary. INTERNAL tells clients and on-call the opposite of the truth: these become
//   INVALID_ARGUMENT.
// - It percent-encodes an error's message into gRPC and gRPC-Web trailers with encodeURIComponent,
//   which throws on a lone surrogate — and a JSON decode error quotes the request, so a body like
//   "\ud800" made it write no answer at all, leaving the stream open. Only such decode errors can
//   quote one (backends' messages arrive as valid UTF-8), so they are answered INVALID_ARGUMENT.
import { Code, type ConnectRouter } from "@connectrpc/connect";
import type { UniversalServerRequest, UniversalServerResponse } from "@connectrpc/connect/protocol";
import { codeToHttpStatus } from "@connectrpc/connect/protocol-connect";

const decodeFailure =
  /^(parse binary: |received compressed envelope, but do not know how to decompress$|decompression failed$)/;
const internal = String(Code.Internal);
const invalidArgument = String(Code.InvalidArgument);
const unquotableMessage = encodeURIComponent("the request could not be decoded");

/** Wraps every handler registered on `router` so far. */
export function answerDecodeFailuresAsInvalidArgument(router: ConnectRouter): void {
  router.handlers.forEach((handler, index) => {
    router.handlers[index] = Object.assign(async (request: UniversalServerRequest) => {
      let response: UniversalServerResponse;
      try {
        response = await handler(request);
      } catch (error) {
        if (error instanceof URIError) return unquotableFailure(request.header.get("content-type") ?? "");
        throw error;
      }
      return rewrite(response);
    }, handler);
  });
}

async function rewrite(response: UniversalServerResponse): Promise<UniversalServerResponse> {
  const { body, header, trailer } = response;
  if (body === undefined) return response;
  // gRPC: the status is in the trailer, set when the body's iterator meets the error.
  if (trailer) {
    fixGrpcStatus(trailer);
    return { ...response, body: grpcBody(body, trailer) };
  }
  const contentType = header?.get("content-type") ?? "";
  if (contentType.startsWith("application/grpc-web")) return { ...response, body: grpcWebBody(body) };
  if (contentType.startsWith("application/connect+")) return { ...response, body: mapChunks(body, fixEndStream) };
  // Connect unary: the error is the whole JSON body, uncompressed at its size.
  if (response.status === codeToHttpStatus(Code.Internal) && !header?.has("content-encoding")) {
    const bytes = Buffer.concat(await collect(body));
    const fixed = fixErrorJson(bytes);
    if (fixed === bytes) return { ...response, body: once(bytes) };
    header?.set("content-length", String(fixed.length));
    return { ...response, status: codeToHttpStatus(Code.InvalidArgument), body: once(fixed) };
  }
  return response;
}

/** The answer when the error could not be written: gRPC status in the trailer, gRPC-Web's in a trailer frame. */
function unquotableFailure(contentType: string): UniversalServerResponse {
  const header = new Headers({ "content-type": contentType });
  if (contentType.startsWith("application/grpc-web"))
    return { status: 200, header, body: once(unquotableTrailerFrame()) };
  return {
    status: 200,
    header,
    trailer: new Headers({ "grpc-status": invalidArgument, "grpc-message": unquotableMessage }),
  };
}

function unquotableTrailerFrame(): Buffer {
  return envelope(0x80, Buffer.from(`grpc-status: ${invalidArgument}\r\ngrpc-message: ${unquotableMessage}\r\n`));
}

async function* grpcBody(body: AsyncIterable<Uint8Array>, trailer: Headers): AsyncIterable<Uint8Array> {
  try {
    yield* body;
  } catch (error) {
    if (!(error instanceof URIError)) throw error;
    trailer.set("grpc-status", invalidArgument);
    trailer.set("grpc-message", unquotableMessage);
  }
  fixGrpcStatus(trailer);
}

async function* grpcWebBody(body: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  try {
    for await (const chunk of body) yield fixGrpcWebTrailer(chunk);
  } catch (error) {
    if (!(error instanceof URIError)) throw error;
    yield unquotableTrailerFrame();
  }
}

function fixGrpcStatus(trailer: Headers): void {
  if (
    trailer.get("grpc-status") === internal &&
    decodeFailure.test(decodeURIComponent(trailer.get("grpc-message") ?? ""))
  ) {
    trailer.set("grpc-status", invalidArgument);
  }
}

/** gRPC-Web's trailer frame (flag 0x80): `grpc-status: 13` lines, as HTTP/1 header text. */
function fixGrpcWebTrailer(chunk: Uint8Array): Uint8Array {
  const frame = Buffer.from(chunk);
  if (frame.length < 5 || frame[0] !== 0x80) return chunk;
  const text = frame.subarray(5).toString("latin1");
  const message = /^grpc-message: ?(.*)$/im.exec(text)?.[1]?.trim() ?? "";
  if (!/^grpc-status: ?13\r?$/im.test(text) || !decodeFailure.test(decodeURIComponent(message))) return chunk;
  return envelope(0x80, Buffer.from(text.replace(/^grpc-status: ?13/im, `grpc-status: ${invalidArgument}`), "latin1"));
}

/** Connect streaming's end-stream frame (flag 0x02): `{"error": {"code": "internal", …}}`. */
function fixEndStream(chunk: Uint8Array): Uint8Array {
  const frame = Buffer.from(chunk);
  if (frame.length < 5 || frame[0] !== 0x02) return chunk;
  try {
    const end = JSON.parse(frame.subarray(5).toString("utf8")) as { error?: { code?: string; message?: string } };
    if (end.error?.code !== "internal" || !decodeFailure.test(end.error.message ?? "")) return chunk;
    end.error.code = "invalid_argument";
    return envelope(0x02, Buffer.from(JSON.stringify(end)));
  } catch {
    return chunk;
  }
}

function fixErrorJson(bytes: Buffer): Buffer {
  try {
    const error = JSON.parse(bytes.toString("utf8")) as { code?: string; message?: string };
    if (error.code !== "internal" || !decodeFailure.test(error.message ?? "")) return bytes;
    return Buffer.from(JSON.stringify({ ...error, code: "invalid_argument" }));
  } catch {
    return bytes;
  }
}

function envelope(flags: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt8(flags, 0);
  header.writeUInt32BE(payload.length, 1);
  return Buffer.concat([header, payload]);
}

async function* mapChunks(
  body: AsyncIterable<Uint8Array>,
  map: (chunk: Uint8Array) => Uint8Array,
): AsyncIterable<Uint8Array> {
  for await (const chunk of body) yield map(chunk);
}

async function collect(body: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of body) chunks.push(chunk);
  return chunks;
}

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}
