// Reading a request body the edge decodes itself (REST, plain Connect unary), within the RPC's
// limit: reading stops at the first byte past it.
import { ConnectError } from "@connectrpc/connect";
import { reasonedError } from "../services/kit/error-info.ts";
import type { EdgeRequest } from "./server.ts";

// Marks the error as this one. (Not a subclass: ConnectError's instanceof accepts any ConnectError.)
const tooLarge = Symbol("body too large");

/** Whether `error` is readBody's refusal of a body over the limit (REST answers it with 413). */
export function isBodyTooLarge(error: unknown): boolean {
  return error instanceof ConnectError && error.cause === tooLarge;
}

export async function readBody(req: EdgeRequest, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      throw reasonedError(
        "REQUEST_TOO_LARGE",
        `the request body exceeds the limit of ${limit} bytes`,
        { limit_bytes: String(limit) },
        { cause: tooLarge },
      );
    }
    chunks.push(chunk);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}
