// The demo's pictures against a real MariaDB and a real S3-compatible store (s3rver): each goes
// through an upload and a confirm like a seller's, once per product however often it runs.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import type { Kysely } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startObjectStore, type RunningObjectStore } from "../../../deploy/local/object-store.ts";
import { EventSchema } from "../../../gen/bazaar/events/v1/events_pb.ts";
import { envReader } from "../../kit/config.ts";
import { devAccounts } from "../../kit/dev-accounts.ts";
import { uuidv7 } from "../../kit/ids.ts";
import { createLogger } from "../../kit/log.ts";
import { migratedTestDatabase } from "../../kit/testing/database.ts";
import type { ProductDatabase } from "../db/database.ts";
import { migrations } from "../db/migrations/index.ts";
import { insertCategory, insertProduct } from "../db/product.repository.ts";
import { insertShop } from "../db/shop.repository.ts";
import { readMediaConfig } from "../media/config.ts";
import { checkImage } from "../media/images.ts";
import { createS3Storage } from "../media/storage.ts";
import { addDemoPictures, demoPicture } from "./demo-pictures.ts";

let db: Kysely<ProductDatabase>;
let store: RunningObjectStore;
let directory: string;

beforeAll(async () => {
  db = await migratedTestDatabase<ProductDatabase>("demo_pictures", migrations);
  directory = await mkdtemp(join(tmpdir(), "bazaar-demo-pictures-"));
  store = await startObjectStore({ directory });
});
afterAll(async () => {
  await store?.stop();
  await db?.destroy();
  await rm(directory, { recursive: true, force: true });
});

describe("demo pictures", () => {
  it("draws a different, valid JPEG for each name", async () => {
    const [apples, bread] = [await demoPicture("Organic Apples 1kg"), await demoPicture("Sourdough Loaf")];
    expect(apples.equals(bread)).toBe(false);
    expect(await checkImage(apples, "image/jpeg", { maxBytes: 1_000_000, maxPixels: 1_000_000 })).toEqual({
      type: "image/jpeg",
      width: 640,
      height: 480,
    });
  });

  it("when it runs twice, then each of the dev seller's products got one confirmed picture, announced once", async () => {
    const [shopId, categoryId] = [uuidv7(), uuidv7()];
    await insertCategory(db, { id: categoryId, parentId: null, name: "Demo", slug: "demo", sortOrder: 0 });
    await insertShop(db, {
      id: shopId,
      sellerId: devAccounts.seller.id,
      name: "Demo shop",
      description: "",
      address: {
        recipientName: "",
        line1: "1 Demo St",
        line2: "",
        city: "Berlin",
        region: "",
        postalCode: "10115",
        countryCode: "DE",
        phone: "",
      },
      location: { latitude: 52.5, longitude: 13.4 },
    });
    const productIds = [uuidv7(), uuidv7()];
    for (const [i, id] of productIds.entries())
      await insertProduct(db, {
        id,
        shopId,
        sellerId: devAccounts.seller.id,
        categoryId,
        name: `Demo ${i}`,
        description: "",
        priceMinor: 100n,
        currencyCode: "USD",
        tags: [],
        imageUrls: [],
        stockOnHand: 1,
        featured: false,
        active: true,
      });
    const config = readMediaConfig(envReader(store.env));
    const deps = { db, outbox: { wake() {} }, storage: createS3Storage(config), config };
    const log = createLogger("demo-pictures-test", "silent");

    expect(await addDemoPictures(deps, log)).toBe(2);
    expect(await addDemoPictures(deps, log)).toBe(0);

    const images = await db
      .selectFrom("images")
      .select(["owner_id", "status", "alt_text"])
      .orderBy("owner_id")
      .execute();
    expect(images).toEqual([
      { owner_id: productIds[0], status: "PROCESSING", alt_text: "Demo 0" },
      { owner_id: productIds[1], status: "PROCESSING", alt_text: "Demo 1" },
    ]);
    const announced = (await db.selectFrom("outbox").select("payload").execute())
      .map((row) => fromBinary(EventSchema, row.payload).payload)
      .flatMap((payload) => (payload.case === "imageUploaded" ? [payload.value.ownerId] : []));
    expect(announced.sort()).toEqual([...productIds].sort());
  });
});
