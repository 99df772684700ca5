// The product service's read cache against a real MariaDB and a real nats-server: a product read
// twice is read from the database once; a write on this replica is read back at once, one on
// another replica (or a reservation, or a shop's suspension) within a second; a read that was
// under way when its product's event arrived is not kept; nothing is kept while the stream is not
// followed, and no more than its bound; a caller that shares the answer gets a fresh read.
import { createContextValues } from "@connectrpc/connect";
import { sql, type Kysely } from "kysely";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createDb } from "../../kit/db.ts";
import { freshReadHeader } from "../../kit/fresh-reads.ts";
import { ensureStream } from "../../kit/events.ts";
import { createLogger } from "../../kit/log.ts";
import { connectNats, type NatsHandles } from "../../kit/nats.ts";
import { startOutboxRelay, type OutboxRelay } from "../../kit/outbox-relay.ts";
import { migratedTestDatabase } from "../../kit/testing/database.ts";
import { eventually } from "../../kit/testing/eventually.ts";
import { createTestTokens, signedIn, type SignedIn } from "../../kit/testing/tokens.ts";
import type { ProductDatabase } from "../db/database.ts";
import { migrations } from "../db/migrations/index.ts";
import {
  currencyCode,
  aProduct,
  aShop,
  madeCategory,
  openedShop,
  productServicesInMemory,
  type ProductServices,
} from "../product-builders.ts";
import { createProductService } from "../product-service.ts";
import { createProductReadCache, type ProductReadCache } from "./product-read-cache.ts";

const log = createLogger("read-cache-test", "silent");
let db: Kysely<ProductDatabase>;
let services: ProductServices;
let admin: SignedIn;
let seller: SignedIn;
let orderService: SignedIn;
let adminService: SignedIn;
let shopId: string;
let categoryId: string;
let nats: NatsHandles;
let relay: OutboxRelay;
const stops: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  db = await migratedTestDatabase<ProductDatabase>("product_read_cache", migrations);
  const tokens = await createTestTokens();
  services = await productServicesInMemory(db, tokens.verifier);
  [admin, seller, orderService, adminService] = await Promise.all([
    signedIn(tokens, "admin"),
    signedIn(tokens, "seller"),
    signedIn(tokens, "service", "service:order"),
    signedIn(tokens, "service", "service:admin"),
  ]);
  shopId = await openedShop(services, seller, aShop());
  categoryId = await madeCategory(services, admin);
  nats = await connectNats(inject("natsUrl"), "read-cache-test");
  await ensureStream(nats.jsm);
  relay = startOutboxRelay({ db, js: nats.js, log });
});

afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
  await relay?.stop();
  await nats?.nc.close();
  services?.searchModel.stop();
  await db?.destroy();
});

/** A cache on this process's pool (its commits reach it directly), following the stream. */
async function thisReplica(maxEntries = 100): Promise<ProductReadCache> {
  const cache = createProductReadCache({ db, log, maxEntries });
  const feed = await cache.follow(nats);
  stops.push(
    () => feed.stop(),
    () => cache.stop(),
  );
  return cache;
}

/** A cache on a pool of its own, as another replica's: only the stream tells it of writes. */
async function anotherReplica(): Promise<ProductReadCache> {
  const { rows } = await sql<{ name: string }>`SELECT DATABASE() AS name`.execute(db);
  const ownDb = createDb<ProductDatabase>({ url: inject("mysqlUrl"), database: rows[0]!.name });
  const cache = createProductReadCache({ db: ownDb, log, maxEntries: 100 });
  const feed = await cache.follow(nats);
  stops.push(
    () => ownDb.destroy(),
    () => feed.stop(),
    () => cache.stop(),
  );
  return cache;
}

async function newProduct(name = "Gyokuro") {
  const { product } = await services.products.createProduct(
    { product: aProduct(shopId, categoryId, { name, stockOnHand: 10 }) },
    seller.options,
  );
  return product!.id;
}

/** A read once the product's own events have arrived: the next read gives the same object. */
async function keptRead(cache: ProductReadCache, id: string) {
  let read = await cache.get(id);
  await eventually(
    async () => {
      const previous = read;
      read = await cache.get(id);
      return read === previous;
    },
    (kept) => kept,
    2_000,
  );
  return read;
}

const rename = (id: string, name: string) =>
  services.products.updateProduct({ product: { id, name }, updateMask: { paths: ["name"] } }, seller.options);

/** Resolves once `read` gives what `done` wants; fails past a second. */
const withinASecond = <T>(read: () => Promise<T>, done: (value: T) => boolean) => eventually(read, done, 1_000);

describe("product read cache", () => {
  it("when a product is read twice, then the second read is answered from memory", async () => {
    const cache = await thisReplica();
    const id = await newProduct();
    // The product's ProductCreated comes through the stream and evicts what was read before it.
    const first = await keptRead(cache, id);
    expect(first?.product.name).toBe("Gyokuro");
    expect(await cache.get(id)).toBe(first);
    expect(await cache.get("01890000-0000-7000-8000-000000000000"), "a product that does not exist").toBeUndefined();
  });

  it("when this replica writes a product, then its next read has the write; another replica has it within a second", async () => {
    const here = await thisReplica();
    const there = await anotherReplica();
    const id = await newProduct();
    await keptRead(here, id);
    await keptRead(there, id);

    // Without a relay nothing is published: only this process's own commits can tell `here`.
    await relay.stop();
    await rename(id, "Gyokuro Asahi");
    expect((await here.get(id))?.product.name, "read back at once").toBe("Gyokuro Asahi");
    expect((await there.get(id))?.product.name, "not yet published").toBe("Gyokuro");
    const started = Date.now();
    relay = startOutboxRelay({ db, js: nats.js, log });
    await withinASecond(
      async () => (await there.get(id))?.product.name,
      (name) => name === "Gyokuro Asahi",
    );
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it("when stock is reserved or a shop suspended, then every replica's reads show it within a second", async () => {
    const here = await thisReplica();
    const there = await anotherReplica();
    const id = await newProduct();
    for (const cache of [here, there]) expect((await cache.get(id))?.product.stockHeld).toBe(0);

    await services.inventory.reserveStock(
      { reservationId: crypto.randomUUID(), items: [{ productId: id, quantity: 3 }] },
      orderService.options,
    );
    for (const cache of [here, there]) {
      await withinASecond(
        async () => (await cache.get(id))?.product.stockHeld,
        (reserved) => reserved === 3,
      );
    }

    await services.shopAdmin.suspendShop(
      { id: shopId, reason: "checking the read cache", actorId: "admin-1" },
      adminService.options,
    );
    try {
      for (const cache of [here, there]) {
        await withinASecond(
          async () => (await cache.get(id))?.product.shopSuspended,
          (suspended) => suspended === true,
        );
      }
    } finally {
      await services.shopAdmin.reactivateShop({ id: shopId, actorId: "admin-1" }, adminService.options);
    }
  });

  it("when its product's event arrives while a read is under way, then that read is answered but not kept", async () => {
    const cache = await thisReplica();
    const id = await newProduct();
    await keptRead(cache, id);
    cache.apply(productUpdated(id));
    const reading = cache.get(id);
    cache.apply(productUpdated(id));
    const read = await reading;
    expect(read?.product.id).toBe(id);
    expect(await cache.get(id), "read again").not.toBe(read);
    expect(await keptRead(cache, id), "and kept this time").toBe(await cache.get(id));
  });

  it("when the stream is not followed, then nothing is kept; when it is, no more products than its bound", async () => {
    const unfollowed = createProductReadCache({ db, log, maxEntries: 100 });
    stops.push(() => unfollowed.stop());
    const id = await newProduct();
    expect(await unfollowed.get(id)).not.toBe(await unfollowed.get(id));
    expect(unfollowed.size).toBe(0);

    const bounded = await thisReplica(2);
    const ids = [id, await newProduct("Bancha"), await newProduct("Kukicha")];
    for (const each of ids) await bounded.get(each);
    await bounded.get(ids[1]!);
    expect(bounded.size).toBe(2);
    const kept = await bounded.get(ids[1]!);
    expect(await bounded.get(ids[1]!), "the most recently read stays").toBe(kept);
  });
});

describe("fresh reads for callers that share the answer", () => {
  it("when GetProduct asks for a fresh read, then it reads the database, keeps that, and later reads get it", async () => {
    const cache = await thisReplica();
    const products = createProductService({
      db,
      outbox: { wake() {} },
      currencyCode,
      images: { publicUrl: (key: string) => key },
      readCache: cache,
    });
    const nameOf = async (header: Record<string, string> = {}) =>
      (
        (await products.getProduct(
          { id } as never,
          { values: createContextValues(), requestHeader: new Headers(header) } as never,
        )) as { product: { name: string } }
      ).product.name;
    const id = await newProduct("Hojicha");
    await keptRead(cache, id);
    // Behind every cache's back: no event, so only a read of the database sees it.
    await sql`UPDATE products SET name = 'Hojicha roasted' WHERE id = ${id}`.execute(db);

    expect(await nameOf(), "from memory").toBe("Hojicha");
    expect(await nameOf({ [freshReadHeader]: "1" }), "fresh").toBe("Hojicha roasted");
    expect(await nameOf(), "the fresh read was kept").toBe("Hojicha roasted");
  });
});

function productUpdated(productId: string) {
  return { payload: { case: "productUpdated", value: { productId } } } as unknown as Parameters<
    ProductReadCache["apply"]
  >[0];
}
