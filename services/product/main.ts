// Wiring only: config → database → gRPC server (ProductService, ShopService, InventoryService,
// ShopAdminService, CategoryAdminService).
import { loadConfigOrExit } from "../kit/config.ts";
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

const config = loadConfigOrExit(() => loadProductConfig(process.env));

const service = startService<ProductDatabase>({
  name: "product",
  config,
  migrations,
  services: ({ db, outbox }) => [
    bind(ProductService, createProductService({ db, outbox, currencyCode: config.currencyCode })),
    bind(ShopService, createShopService({ db, outbox })),
    bind(ShopAdminService, createShopAdminService({ db, outbox })),
    bind(CategoryAdminService, createCategoryAdminService({ db })),
    bind(InventoryService, createInventoryService({ db, outbox, reservationTtlMs: config.reservationTtlMs })),
  ],
  rules: productAccessRules,
  jobs: ({ db, outbox }) => [
    {
      name: "release expired holds",
      everyMs: config.expirySweepMs,
      run: () => releaseExpiredHolds({ db, outbox, reservationTtlMs: config.reservationTtlMs }),
    },
  ],
  async onReady({ db, log }) {
    if (config.demoSeed && (await seedDemoCatalog(db, config.currencyCode))) log.info("demo catalog seeded");
  },
});
runUntilSignalled(service, createLogger("product", config.logLevel));
