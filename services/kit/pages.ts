// Keyset pages: the page size rule of every List RPC, and the one codec of page tokens.
//
// A page token says where the previous page ended: the sort keys of its last row, as base64url
// JSON under short keys. Clients treat it as opaque, but it comes back from them, so decoding
// checks every key's type and shape and answers anything else with invalid_argument: what a
// token holds reaches SQL only as a well-formed id, number or integer.
import { Code, ConnectError } from "@connectrpc/connect";

export const defaultPageSize = 20;
export const maxPageSize = 100;

/** 0 means the default; anything above the maximum is capped (validation already bounds it). */
export function pageSizeOf(requested: number): number {
  return requested <= 0 ? defaultPageSize : Math.min(requested, maxPageSize);
}

type FieldKind = "id" | "number" | "bigint" | "text";
type ValueOf<K extends FieldKind> = K extends "number" ? number : K extends "bigint" ? bigint : string;

/** One sort key of a cursor and the short key it goes under in the token. */
export interface CursorField<K extends FieldKind = FieldKind> {
  key: string;
  kind: K;
}

export const cursorField = {
  /** A row id (UUID). */
  id: (key: string): CursorField<"id"> => ({ key, kind: "id" }),
  /** A finite number: a distance, a relevance score. */
  number: (key: string): CursorField<"number"> => ({ key, kind: "number" }),
  /** An int64 such as a price in minor units, carried as decimal digits so none is lost beyond 2^53. */
  bigint: (key: string): CursorField<"bigint"> => ({ key, kind: "bigint" }),
  /** A short word: the order the list was sorted in, a fingerprint of the query. */
  text: (key: string): CursorField<"text"> => ({ key, kind: "text" }),
};

export type CursorOf<F extends Record<string, CursorField>> = { [N in keyof F]: ValueOf<F[N]["kind"]> };

export interface PageTokenCodec<C> {
  encode(cursor: C): string;
  /**
   * The cursor a token holds. `expected` names fields the token must carry unchanged (the sort
   * order, the query it was made for): a token only continues the list it came from.
   */
  decode(token: string, expected?: Partial<C>): C;
}

const invalidToken = () => new ConnectError("page_token is not valid for this query", Code.InvalidArgument);

const readers: { [K in FieldKind]: (value: unknown) => ValueOf<K> | undefined } = {
  id: (value) => (typeof value === "string" && /^[0-9a-f-]{36}$/.test(value) ? value : undefined),
  number: (value) => (typeof value === "number" && Number.isFinite(value) ? value : undefined),
  bigint: (value) => (typeof value === "string" && /^-?\d{1,18}$/.test(value) ? BigInt(value) : undefined),
  text: (value) => (typeof value === "string" && value.length <= 64 ? value : undefined),
};

/** A page token codec over the named sort keys, e.g. `{ distanceKm: cursorField.number("d"), id: cursorField.id("i") }`. */
export function pageTokenCodec<const F extends Record<string, CursorField>>(fields: F): PageTokenCodec<CursorOf<F>> {
  const entries = Object.entries(fields);
  return {
    encode(cursor) {
      const payload: Record<string, unknown> = {};
      for (const [name, field] of entries) {
        const value = cursor[name];
        payload[field.key] = typeof value === "bigint" ? value.toString() : value;
      }
      return Buffer.from(JSON.stringify(payload)).toString("base64url");
    },
    decode(token, expected) {
      let payload: unknown;
      try {
        payload = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
      } catch {
        throw invalidToken();
      }
      if (typeof payload !== "object" || payload === null) throw invalidToken();
      const cursor: Record<string, unknown> = {};
      for (const [name, field] of entries) {
        const value = readers[field.kind]((payload as Record<string, unknown>)[field.key]);
        if (value === undefined) throw invalidToken();
        if (expected && name in expected && expected[name] !== value) throw invalidToken();
        cursor[name] = value;
      }
      return cursor as CursorOf<F>;
    },
  };
}

/** The page token of a list ordered by (UUIDv7) id: the id the previous page ended with. */
export const idPageToken = pageTokenCodec({ id: cursorField.id("i") });

/**
 * One page of a list ordered by id, newest first, from a List request's page_size and
 * page_token. `read` is asked for one row more than the page holds, so whether another page
 * follows is known without counting; the next token is the id the page ends with.
 */
export async function idKeysetPage<T>(
  request: { pageSize: number; pageToken: string },
  read: (keyset: { limit: number; beforeId: string | undefined }) => Promise<T[]>,
  idOf: (row: T) => string,
): Promise<{ rows: T[]; nextPageToken: string }> {
  const limit = pageSizeOf(request.pageSize);
  const beforeId = request.pageToken ? idPageToken.decode(request.pageToken).id : undefined;
  const rows = await read({ limit: limit + 1, beforeId });
  const page = rows.slice(0, limit);
  return { rows: page, nextPageToken: rows.length > limit ? idPageToken.encode({ id: idOf(page.at(-1)!) }) : "" };
}
