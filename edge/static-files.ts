// Files the edge serves itself (the storefront, the OpenAPI document and its docs page), kept in
// memory: a handful of small files, each with a strong ETag so browsers revalidate cheaply.
import { createHash } from "node:crypto";
import type { ServerResponse } from "node:http";
import type { RequestHandler } from "./server.ts";

export interface StaticFile {
  body: Buffer;
  contentType: string;
  /** Defaults to `no-cache` (always revalidate with the ETag). */
  cacheControl?: string;
}

export type StaticFiles = Map<string, StaticFile>;

interface PreparedFile extends StaticFile {
  etag: string;
}

/** A handler for GET/HEAD of the given paths; answers false when the path is not one of them. */
export function staticFileServer(...sets: StaticFiles[]) {
  const files = new Map<string, PreparedFile>();
  for (const set of sets) {
    for (const [path, file] of set) {
      const etag = `"${createHash("sha256").update(file.body).digest("base64url").slice(0, 22)}"`;
      files.set(path, { ...file, etag });
    }
  }
  return (req: Parameters<RequestHandler>[0], res: Parameters<RequestHandler>[1], path: string): boolean => {
    if (req.method !== "GET" && req.method !== "HEAD") return false;
    const file = files.get(path);
    if (!file) return false;
    const response = res as ServerResponse;
    const headers = {
      "content-type": file.contentType,
      "cache-control": file.cacheControl ?? "no-cache",
      etag: file.etag,
      "x-content-type-options": "nosniff",
    };
    if (req.headers["if-none-match"] === file.etag) {
      response.writeHead(304, headers);
      response.end();
    } else {
      response.writeHead(200, { ...headers, "content-length": file.body.length });
      response.end(req.method === "HEAD" ? undefined : file.body);
    }
    return true;
  };
}
