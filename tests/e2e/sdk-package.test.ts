// @bazaar/sdk as an app developer meets it, against the whole mesh: packed with `npm pack`,
// installed from the tarball into an empty project, its example type-checked there and run,
// buying by card and following the order to CONFIRMED. Then the session's promises: an access
// token that expires mid-session is refreshed once, transparently; a burst of calls with an
// expired token refreshes once, not once per call; a refused refresh ends the session.
import { spawn } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { importJWK, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createBazaar,
  ErrorReason,
  errorInfoOf,
  memoryTokenStorage,
  publicServices,
} from "../../edge/sdk/src/index.ts";
import type { StoredTokens } from "../../edge/sdk/src/token-storage.ts";
import type { DescService } from "@bufbuild/protobuf";
import { file_bazaar_admin_v1_admin } from "../../gen/bazaar/admin/v1/admin_pb.ts";
import { file_bazaar_auth_v1_auth } from "../../gen/bazaar/auth/v1/auth_pb.ts";
import { file_bazaar_cart_v1_cart } from "../../gen/bazaar/cart/v1/cart_pb.ts";
import { file_bazaar_events_v1_dead_letters } from "../../gen/bazaar/events/v1/dead_letters_pb.ts";
import { file_bazaar_notification_v1_notification } from "../../gen/bazaar/notification/v1/notification_pb.ts";
import { file_bazaar_order_v1_order, OrderStatus } from "../../gen/bazaar/order/v1/order_pb.ts";
import { file_bazaar_payment_v1_payment } from "../../gen/bazaar/payment/v1/payment_pb.ts";
import { file_bazaar_product_v1_media } from "../../gen/bazaar/product/v1/media_pb.ts";
import { file_bazaar_product_v1_product } from "../../gen/bazaar/product/v1/product_pb.ts";
import { tokenProfile } from "../../services/kit/auth.ts";
import { bearer } from "../../services/kit/testing/calls.ts";
import { useMesh } from "../support/use-mesh.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const exampleSource = join(root, "edge/sdk/example/buy-and-watch.ts");

// The mesh signs with a key of this file's own, so the session stories can present access
// tokens that expire when they need them to: auth issues tokens of 60 s at least
// (BAZAAR_ACCESS_TOKEN_TTL_SECONDS), and verifiers allow 30 s of clock skew on top, so waiting
// for a real one would take 90 s.
const signingKey = {
  ...generateKeyPairSync("ed25519").privateKey.export({ format: "jwk" }),
  kid: `sdk-test-${randomBytes(4).toString("hex")}`,
};
const e2e = useMesh({
  httpVersion: "1.1",
  env: {
    BAZAAR_AUTH_SIGNING_KEYS: JSON.stringify([{ ...signingKey, created: new Date().toISOString() }]),
  },
});

interface Finished {
  code: number | null;
  /** stdout and stderr interleaved, as a person at a terminal would read them. */
  output: string;
}

/** Runs a command to its end in `cwd`; killed after timeoutMs. */
function run(command: string, args: string[], cwd: string, timeoutMs: number): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, timeout: timeoutMs, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    child.once("error", reject);
    child.once("close", (code, signal) =>
      resolve({ code, output: signal ? `${output}\n(killed by ${signal})` : output }),
    );
  });
}

async function newCustomer() {
  const email = `sdk-${randomBytes(5).toString("hex")}@example.test`;
  const password = "password-123";
  const registered = await e2e.auth.register({ email, password, displayName: "SDK Example" });
  return { email, password, ...registered };
}

describe("the packed SDK in an empty project", () => {
  const work = mkdtempSync(join(tmpdir(), "bazaar-sdk-"));
  const app = join(work, "app");
  let tarball = "";

  beforeAll(async () => {
    // prepack builds dist/ (bundle and declarations) before the tarball is made.
    const packed = await run(
      "npm",
      ["pack", "--workspace", "edge/sdk", "--pack-destination", work, "--json"],
      root,
      120_000,
    );
    expect(packed.code, packed.output).toBe(0);
    const [{ filename }] = JSON.parse(packed.output.slice(packed.output.indexOf("[\n"))) as [{ filename: string }];
    tarball = join(work, filename);

    rmSync(app, { recursive: true, force: true });
    await import("node:fs/promises").then(({ mkdir }) => mkdir(app));
    writeFileSync(
      join(app, "package.json"),
      JSON.stringify({ name: "sdk-example-app", private: true, type: "module" }),
    );
    // From the npm cache when it has the dependencies (the repo's own install put them there).
    const installed = await run(
      "npm",
      ["install", tarball, "--prefer-offline", "--no-audit", "--no-fund", "--no-package-lock"],
      app,
      180_000,
    );
    expect(installed.code, installed.output).toBe(0);
    copyFileSync(exampleSource, join(app, "buy-and-watch.ts"));
  }, 300_000);
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("when packed, then the tarball holds the built JavaScript, the declarations and the README, and no source", async () => {
    const listed = await run("tar", ["-tzf", tarball], work, 30_000);
    const files = listed.output.split("\n").filter(Boolean);
    expect(files).toContain("package/dist/index.js");
    expect(files).toContain("package/dist/node.js");
    expect(files).toContain("package/dist/contracts/order.js");
    expect(files).toContain("package/dist/types/edge/sdk/src/index.d.ts");
    expect(files).toContain("package/dist/types/gen/bazaar/order/v1/order_pb.d.ts");
    expect(files).toContain("package/README.md");
    expect(files.filter((file) => file.startsWith("package/src/") || file.endsWith("build.ts"))).toEqual([]);
    const manifest = JSON.parse(readFileSync(join(app, "node_modules/@bazaar/sdk/package.json"), "utf8"));
    expect(Object.keys(manifest.dependencies).sort()).toEqual([
      "@bufbuild/protobuf",
      "@connectrpc/connect",
      "@connectrpc/connect-web",
    ]);
  });

  it("when the app type-checks the example against the installed package, then it compiles, library declarations included", async () => {
    // The options an app would compile with, not the repo's tsconfig; skipLibCheck off, so the
    // package's declarations are checked too. Node's types from the repo's node_modules.
    writeFileSync(
      join(app, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          module: "nodenext",
          target: "es2024",
          noEmit: true,
          types: ["node"],
          typeRoots: [join(root, "node_modules/@types")],
          verbatimModuleSyntax: true,
          erasableSyntaxOnly: true,
          skipLibCheck: false,
        },
        files: ["buy-and-watch.ts"],
      }),
    );
    const checked = await run(join(root, "node_modules/.bin/tsc"), ["-p", "tsconfig.json"], app, 120_000);
    expect(checked.code, checked.output).toBe(0);
  }, 150_000);

  it("when a new customer runs the example against the edge, then it buys by card, watches the order to CONFIRMED and the order is on record; run again with the tokens file it kept, it needs no password", async () => {
    const { email, password, tokens } = await newCustomer();
    const tokensFile = join(work, "tokens.json");
    const result = await run(
      process.execPath,
      [
        "buy-and-watch.ts",
        "--edge",
        e2e.mesh.edgeUrl,
        "--email",
        email,
        "--password",
        password,
        "--tokens",
        tokensFile,
      ],
      app,
      60_000,
    );
    expect(result.code, result.output).toBe(0);
    const orderId = /^placed order (\S+),/m.exec(result.output)?.[1];
    expect(orderId, result.output).toBeDefined();
    // Each status as WatchOrders pushed it, replayed from the order's creation.
    const watched = [...result.output.matchAll(new RegExp(`^watched order ${orderId}: (\\w+)$`, "gm"))].map(
      (line) => line[1],
    );
    expect(watched, result.output).toEqual(["PENDING", "CONFIRMED"]);

    const { orders } = await e2e.orders.listOrders({}, bearer(tokens!.accessToken));
    expect(orders.map((o) => o.id)).toEqual([orderId]);
    expect(orders[0]!.status).toBe(OrderStatus.CONFIRMED);
    const bought = /; buying (.+) at /.exec(result.output)?.[1];
    expect(orders[0]!.items.map((item) => [item.name, item.quantity])).toEqual([[bought, 1]]);

    // The session was kept in the file (readable by its user only): a second run needs no password.
    expect(statSync(tokensFile).mode & 0o777).toBe(0o600);
    const again = await run(
      process.execPath,
      ["buy-and-watch.ts", "--edge", e2e.mesh.edgeUrl, "--tokens", tokensFile],
      app,
      60_000,
    );
    expect(again.code, again.output).toBe(0);
    expect(again.output).toContain(`signed in as ${email}`);
  }, 120_000);
});

/**
 * A fetch that counts the RPCs it carries, by method name, and notes each refusal as
 * "<method> <reason>" (Connect's JSON error body repeats the ErrorInfo reason at its top).
 */
function countingFetch() {
  const calls = new Map<string, number>();
  const refusals: string[] = [];
  const fetchCounting: typeof fetch = async (input, init) => {
    const method = String(input instanceof Request ? input.url : input)
      .split("/")
      .pop()!
      .split("?")[0]!;
    calls.set(method, (calls.get(method) ?? 0) + 1);
    const response = await fetch(input, init);
    if (!response.ok) {
      const body = (await response.clone().json()) as { code?: string; reason?: string };
      refusals.push(`${method} ${body.reason ?? body.code}`);
    }
    return response;
  };
  return { fetch: fetchCounting, count: (method: string) => calls.get(method) ?? 0, refusals };
}

/**
 * An access token for the user of `accessToken` (its claims copied), signed with the mesh's key
 * as auth signs, whose lifetime (with the verifiers' clock tolerance) ends at most `validForMs`
 * from now; negative: expired already.
 */
/** A new customer's session whose access token expired a minute ago; its calls counted. */
async function customerWithExpiredToken() {
  const { tokens, user } = await newCustomer();
  const counting = countingFetch();
  const bazaar = createBazaar({
    baseUrl: e2e.mesh.edgeUrl,
    storage: memoryTokenStorage({
      accessToken: await accessTokenOf(tokens!.accessToken, -60_000),
      refreshToken: tokens!.refreshToken,
    }),
    fetch: counting.fetch,
  });
  return { user, counting, bazaar };
}

async function accessTokenOf(accessToken: string, validForMs: number): Promise<string> {
  const claims = JSON.parse(Buffer.from(accessToken.split(".")[1]!, "base64url").toString()) as {
    sub: string;
    role: string;
    email_verified?: boolean;
  };
  const now = Math.floor(Date.now() / 1000);
  const exp = Math.floor((Date.now() + validForMs) / 1000) - tokenProfile.clockToleranceSeconds;
  return new SignJWT({ role: claims.role, email_verified: claims.email_verified })
    .setProtectedHeader({ alg: tokenProfile.algorithm, kid: signingKey.kid, typ: tokenProfile.accessType })
    .setIssuer(tokenProfile.issuer)
    .setAudience(tokenProfile.audience)
    .setSubject(claims.sub)
    .setIssuedAt(Math.min(now, exp - 1))
    .setNotBefore(Math.min(now, exp - 1) - 60)
    .setExpirationTime(exp)
    .setJti(crypto.randomUUID())
    .sign(await importJWK({ ...signingKey, alg: tokenProfile.algorithm }, tokenProfile.algorithm));
}

describe("the SDK's session against the edge", () => {
  it("when the access token expires mid-session, then the next call refreshes it once, transparently, and the new tokens are kept", async () => {
    const { tokens } = await newCustomer();
    const counting = countingFetch();
    // Time for the first call even on a loaded machine; the token is refused from expiresAt on.
    const expiresAt = Date.now() + 5_000;
    const storage = memoryTokenStorage({
      accessToken: await accessTokenOf(tokens!.accessToken, expiresAt - Date.now()),
      refreshToken: tokens!.refreshToken,
    });
    const bazaar = createBazaar({ baseUrl: e2e.mesh.edgeUrl, storage, fetch: counting.fetch });

    const before = await bazaar.carts.getCart({});
    expect(before.cart!.totalItems).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, expiresAt - Date.now() + 300));
    const after = await bazaar.carts.getCart({});
    expect(after.cart!.totalItems).toBe(0);

    expect(counting.count("RefreshToken")).toBe(1);
    // Two answered calls, and the one the expired token was refused on.
    expect(counting.count("GetCart")).toBe(3);
    expect(counting.refusals).toEqual(["GetCart TOKEN_EXPIRED"]);
    const kept = (await storage.load()) as StoredTokens;
    expect(kept.refreshToken).not.toBe(tokens!.refreshToken);
    expect(kept.accessExpireTime).toBeDefined();
    // The refreshed token is the session's: the order service knows the same customer by it.
    const { orders } = await e2e.orders.listOrders({}, bearer(kept.accessToken));
    expect(orders).toEqual([]);
  });

  it("when ten calls go out at once with an expired access token, then one refresh serves them all and each is answered", async () => {
    const { user, counting, bazaar } = await customerWithExpiredToken();

    const answers = await Promise.all([
      ...Array.from({ length: 4 }, () => bazaar.auth.getMe({})),
      ...Array.from({ length: 3 }, () => bazaar.carts.getCart({})),
      ...Array.from({ length: 3 }, () => bazaar.orders.listOrders({ pageSize: 5 })),
    ]);

    expect(answers).toHaveLength(10);
    expect(answers.slice(0, 4).map((answer) => ("user" in answer ? answer.user?.id : undefined))).toEqual(
      Array(4).fill(user!.id),
    );
    expect(counting.count("RefreshToken")).toBe(1);
    expect(counting.refusals).toHaveLength(10);
    expect(new Set(counting.refusals.map((refusal) => refusal.split(" ")[1]))).toEqual(new Set(["TOKEN_EXPIRED"]));
    // Each call twice: refused with the expired token, answered with the new one.
    expect([counting.count("GetMe"), counting.count("GetCart"), counting.count("ListOrders")]).toEqual([8, 6, 6]);
  });

  it("when a watch is opened with an expired access token, then the session refreshes once and the stream delivers", async () => {
    const { counting, bazaar } = await customerWithExpiredToken();
    const placed = await placeCardOrder(bazaar);

    const seen: OrderStatus[] = [];
    const watch = AbortSignal.timeout(20_000);
    for await (const { order } of bazaar.orders.watchOrders({ sinceTime: placed.createTime }, { signal: watch })) {
      if (order?.id !== placed.id) continue;
      seen.push(order.status);
      if (order.status === OrderStatus.CONFIRMED) break;
    }
    expect(seen.at(-1)).toBe(OrderStatus.CONFIRMED);
    expect(counting.count("RefreshToken")).toBe(1);
  });

  it("when the refresh token is refused, then the tokens are cleared, the session's end is told and the call fails with REFRESH_TOKEN_INVALID", async () => {
    const { tokens } = await newCustomer();
    // Used once already: the session holds a refresh token that was rotated away.
    await e2e.auth.refreshToken({ refreshToken: tokens!.refreshToken });
    const storage = memoryTokenStorage({
      accessToken: await accessTokenOf(tokens!.accessToken, -60_000),
      refreshToken: tokens!.refreshToken,
    });
    const ended: unknown[] = [];
    const bazaar = createBazaar({ baseUrl: e2e.mesh.edgeUrl, storage, onSessionEnded: (error) => ended.push(error) });

    const failure = await bazaar.carts.getCart({}).catch((error: unknown) => error);
    expect(errorInfoOf(failure)?.reason).toBe(ErrorReason.REFRESH_TOKEN_INVALID);
    expect(ended).toHaveLength(1);
    expect(await storage.load()).toBeUndefined();
    expect(await bazaar.session.tokens()).toBeUndefined();
  });
});

/** Signs the session's customer up for a card order of one product in stock. */
async function placeCardOrder(bazaar: ReturnType<typeof createBazaar>) {
  const { products } = await bazaar.products.searchProducts({ query: "coffee", pageSize: 10 });
  const product = products.find((p) => p.stockAvailable > 0)!;
  await bazaar.carts.addCartItem({ productId: product.id, quantity: 1 });
  const { order } = await bazaar.orders.placeOrder({
    idempotencyKey: crypto.randomUUID(),
    shippingAddress: {
      recipientName: "SDK",
      line1: "Hauptstraße 1",
      city: "Berlin",
      postalCode: "10115",
      countryCode: "DE",
    },
    payment: { method: 1, cardToken: "tok_visa" },
  });
  return order!;
}

describe("the SDK's clients", () => {
  it("when each public service's RPCs are asked for at the edge, then every one is routed, and no service left out of the SDK is", async () => {
    const routed = async (path: string) => {
      // A content type no protocol has: a routed RPC refuses it (415), an unrouted path is 404.
      const response = await fetch(`${e2e.mesh.edgeUrl}${path}`, {
        method: "POST",
        headers: { "content-type": "application/x-bazaar-probe" },
        body: "",
      });
      await response.arrayBuffer();
      return response.status !== 404;
    };
    const pathsOf = (services: DescService[]) =>
      services.flatMap((service) => service.methods.map((method) => `/${service.typeName}/${method.name}`));
    const inSdk = new Set<DescService>(Object.values(publicServices));
    const everyService = [
      file_bazaar_admin_v1_admin,
      file_bazaar_auth_v1_auth,
      file_bazaar_cart_v1_cart,
      file_bazaar_events_v1_dead_letters,
      file_bazaar_notification_v1_notification,
      file_bazaar_order_v1_order,
      file_bazaar_payment_v1_payment,
      file_bazaar_product_v1_media,
      file_bazaar_product_v1_product,
    ].flatMap((file) => file.services);
    const routing = async (paths: string[]) =>
      Promise.all(paths.map(async (path) => [path, await routed(path)] as const));

    const sdk = await routing(pathsOf(everyService.filter((service) => inSdk.has(service))));
    expect(sdk.filter(([, isRouted]) => !isRouted).map(([path]) => path)).toEqual([]);
    const others = await routing(pathsOf(everyService.filter((service) => !inSdk.has(service))));
    expect(others.length).toBeGreaterThan(0);
    expect(others.filter(([, isRouted]) => isRouted).map(([path]) => path)).toEqual([]);
    expect(sdk.length).toBe(pathsOf(Object.values(publicServices)).length);
  });
});
