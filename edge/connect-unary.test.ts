// The edge's own Connect unary path, over a real HTTP server with a stub backend: which requests
// it takes from the adapter, what it answers a content coding it cannot decode, and that the
// answers it keeps in the shared cache are asked for fresh.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { create } from "@bufbuild/protobuf";
import { ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ListCategoriesResponseSchema, ProductService } from "../gen/bazaar/product/v1/product_pb.ts";
import { freshReadHeader } from "../services/kit/fresh-reads.ts";
import { plainConnectUnary, serveConnectUnary } from "./connect-unary.ts";
import { PublicCache } from "./public-cache.ts";

const backendCalls: unknown[] = [];
let server: Server;
let baseUrl: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    const query = req.method === "GET" ? new URL(req.url ?? "/", "http://edge").searchParams : undefined;
    const encoding = plainConnectUnary(req, query);
    if (!encoding) {
      res.writeHead(299).end("adapter");
      return;
    }
    void serveConnectUnary(req, res, {
      method: ProductService.method.listCategories,
      encoding,
      query,
      maxBodyBytes: 1024,
      backend: async (request) => {
        backendCalls.push(request);
        return create(ListCategoriesResponseSchema);
      },
      optionsFor: () => ({}),
      describeError: (error) => ConnectError.from(error),
      cache: undefined,
      cacheControl: "no-store",
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/bazaar.product.v1.ProductService/ListCategories`;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

describe("content codings on the plain Connect unary path", () => {
  it("when a request is compressed with a coding the adapter decodes, then the adapter serves it", async () => {
    for (const coding of ["gzip", "br", "identity"]) {
      const response = await fetch(baseUrl, {
        method: "POST",
        headers: { "content-type": "application/json", "content-encoding": coding },
        body: "x",
      });
      expect([coding, response.status]).toEqual([coding, 299]);
    }
    expect((await fetch(`${baseUrl}?connect=v1&encoding=json&message=%7B%7D&compression=gzip`)).status).toBe(299);
  });

  // Found by the fuzzer (tests/fuzz): the adapter answered these unimplemented with HTTP 501.
  it.each([
    ["an unknown coding", { "content-encoding": "x-junk" }, ""],
    ["gzip in capitals", { "content-encoding": "GZIP" }, ""],
    ["a list of codings", { "content-encoding": "gzip, gzip" }, ""],
    [
      "an unknown coding, with the content type in capitals",
      { "content-encoding": "x-junk", "content-type": "APPLICATION/JSON" },
      "",
    ],
    ["a GET with compression=zstd", {}, "?connect=v1&encoding=json&message=%7B%7D&compression=zstd"],
  ])(
    "when a request declares %s, then 415 with code unimplemented, and the backend is not called",
    async (_, headers, query) => {
      const before = backendCalls.length;
      const response = query
        ? await fetch(`${baseUrl}${query}`)
        : await fetch(baseUrl, {
            method: "POST",
            headers: { "content-type": "application/json", ...headers },
            body: "{}",
          });
      expect(response.status).toBe(415);
      expect(await response.json()).toMatchObject({
        code: "unimplemented",
        message: expect.stringMatching(/^content coding ".*" is not supported/),
      });
      expect(backendCalls.length).toBe(before);
    },
  );

  it("when a request has no coding, then the backend answers it", async () => {
    const response = await fetch(baseUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect([response.status, await response.json()]).toEqual([200, {}]);
  });
});

describe("answers kept in the shared cache", () => {
  let cached: Server;
  let cachedUrl = "";
  const asked: Array<{ cached: boolean; fresh: string | null }> = [];

  beforeAll(async () => {
    const store = new PublicCache({ ttlMs: 60_000 });
    cached = createServer((req, res) => {
      const shared = req.headers["x-shared"] === "1";
      void serveConnectUnary(req, res, {
        method: ProductService.method.listCategories,
        encoding: "json",
        query: undefined,
        maxBodyBytes: 1024,
        backend: async (_, options) => {
          asked.push({ cached: shared, fresh: new Headers(options.headers).get(freshReadHeader) });
          return create(ListCategoriesResponseSchema);
        },
        optionsFor: () => ({ headers: new Headers({ authorization: "Bearer x" }) }),
        describeError: (error) => ConnectError.from(error),
        cache: shared ? { store, path: "/bazaar.product.v1.ProductService/ListCategories" } : undefined,
        cacheControl: "no-store",
      });
    });
    await new Promise<void>((resolve) => cached.listen(0, "127.0.0.1", resolve));
    cachedUrl = `http://127.0.0.1:${(cached.address() as AddressInfo).port}/bazaar.product.v1.ProductService/ListCategories`;
  });
  afterAll(() => new Promise((resolve) => cached.close(resolve)));

  it("when an answer is read to be shared, then the backend is asked for a fresh read; a hit asks nothing; an unshared read asks no fresh read", async () => {
    const read = (shared: boolean) =>
      fetch(cachedUrl, {
        method: "POST",
        headers: { "content-type": "application/json", ...(shared && { "x-shared": "1" }) },
        body: "{}",
      }).then((response) => response.status);
    expect([await read(true), await read(true), await read(false)]).toEqual([200, 200, 200]);
    expect(asked).toEqual([
      { cached: true, fresh: "1" },
      { cached: false, fresh: null },
    ]);
  });
});
