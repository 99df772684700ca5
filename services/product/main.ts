// Wiring only: config → database → object storage → gRPC server (ProductService, ShopService,
// MediaService, InventoryService, ShopAdminService, CategoryAdminService) → the image worker (a
// durable consumer of ImageUploaded) → jobs (expired holds, media cleanup).
import { MediaService } from "../../gen/bazaar/product/v1/media_pb.ts";
import { loadConfigOrExit } from "../kit/config.ts";
import { startConsumer } from "../kit/consumer.ts";
import { runUntilSignalled, startService } from "../kit/lifecycle.ts";
import { createLogger } from "../kit/log.ts";
import { bind } from "../kit/serve.ts";
import {
  CategoryAdminService,
  InventoryService,
  ProductService,
  ShopAdminService,
  ShopService,
} from "../../gen/bazaar/product/v1/product_pb.ts";
import { productAccessRules } from "./access-rules.ts";
import { loadProductConfig } from "./config.ts";
import type { ProductDatabase } from "./db/database.ts";
import { seedDemoCatalog } from "./db/demo-seed.ts";
import { migrations } from "./db/migrations/index.ts";
import { releaseExpiredHolds } from "./domain/inventory.ts";
import { createInventoryService } from "./inventory-service.ts";
import { createCategoryAdminService } from "./category-admin-service.ts";
import { createProductService } from "./product-service.ts";
import { createShopAdminService } from "./shop-admin-service.ts";
import { createShopService } from "./shop-service.ts";
import { addDemoPictures } from "./domain/demo-pictures.ts";
import { cleanUpMedia, processUploadedImages } from "./domain/media.ts";
import { createMediaService } from "./media-service.ts";
import { createS3Storage } from "./media/storage.ts";
import { SearchIndexStore } from "./db/search-index.ts";
import { createProductReadCache, observeProductReadCache, type ProductReadCache } from "./domain/product-read-cache.ts";
import { createSearchReadModel, observeSearchIndex, type SearchReadModel } from "./domain/search-read-model.ts";

const config = loadConfigOrExit(() => loadProductConfig(process.env));
const storage = createS3Storage(config.media);
const images = storage;
let searchModel: SearchReadModel | undefined;
let readCache: ProductReadCache | undefined;

const service = startService<ProductDatabase>({
  name: "product",
  config,
  migrations,
  services: ({ db, outbox, log }) => {
    searchModel = createSearchReadModel({ db, store: SearchIndexStore.open(config.searchIndexPath), log });
    observeSearchIndex(searchModel);
    readCache = createProductReadCache({ db, log, maxEntries: config.readCacheEntries });
    observeProductReadCache(readCache);
    return [
      bind(
        ProductService,
        createProductService({ db, outbox, currencyCode: config.currencyCode, images, searchModel, readCache }),
      ),
      bind(ShopService, createShopService({ db, outbox, images })),
      bind(MediaService, createMediaService({ db, outbox, storage, config: config.media })),
      bind(ShopAdminService, createShopAdminService({ db, outbox, images })),
      bind(CategoryAdminService, createCategoryAdminService({ db, outbox })),
      bind(InventoryService, createInventoryService({ db, outbox, reservationTtlMs: config.reservationTtlMs })),
    ];
  },
  rules: productAccessRules,
  consumers: ({ db, outbox, log, nats }) => [
    Promise.resolve(searchModel!.follow(nats)),
    readCache!.follow(nats),
    startConsumer<ProductDatabase>({
      js: nats.js,
      jsm: nats.jsm,
      db,
      log,
      source: "product",
      name: "product-image-worker",
      filterSubject: "bazaar.product.image_uploaded",
      handle: processUploadedImages({ db, outbox, storage, config: config.media, log }),
      // Each picture takes a fraction of a second to render and is written to the object store:
      // one per transaction, so one that fails makes no other render again.
      batchSize: 1,
    }),
  ],
  jobs: ({ db, outbox }) => [
    {
      name: "media cleanup",
      everyMs: config.media.cleanupEveryMs,
      run: () => cleanUpMedia({ db, storage }),
    },
    {
      name: "release expired holds",
      everyMs: config.expirySweepMs,
      run: () => releaseExpiredHolds({ db, outbox, reservationTtlMs: config.reservationTtlMs }),
    },
  ],
  async onReady({ db, log, outbox }) {
    if (config.demoSeed && (await seedDemoCatalog(db, config.currencyCode))) {
      log.info("demo catalog seeded");
      // Written without events: the search index reads it.
      void searchModel!.sweep();
    }
    if (config.demoPictures) {
      // In the background: the service serves meanwhile, and the worker makes the renditions.
      void addDemoPictures({ db, outbox, storage, config: config.media }, log).then((added) => {
        if (added > 0) log.info({ added }, "demo pictures uploaded");
      });
    }
  },
});
runUntilSignalled(service, createLogger("product", config.logLevel));
