// Keyset pages: the page size rule of every List RPC, and the cursor of lists ordered by id.
import { Code, ConnectError } from "@connectrpc/connect";

export const defaultPageSize = 20;
export const maxPageSize = 100;

/** 0 means the default; anything above the maximum is capped (validation already bounds it). */
export function pageSizeOf(requested: number): number {
  return requested <= 0 ? defaultPageSize : Math.min(requested, maxPageSize);
}

/** The page token of a list ordered by (UUIDv7) id: where the previous page ended. */
export function encodeIdCursor(id: string): string {
  return Buffer.from(id).toString("base64url");
}

export function decodeIdCursor(token: string): string {
  const id = Buffer.from(token, "base64url").toString("utf8");
  if (!/^[0-9a-f-]{36}$/.test(id)) throw new ConnectError("page_token is not valid", Code.InvalidArgument);
  return id;
}
