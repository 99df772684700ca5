// The product service's five handlers in memory over a test database, and builders of what
// its tests put in it: categories (made by an admin), shops (opened by a seller), products.
import { randomBytes } from "node:crypto";
import type { Client } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import {
  CategoryAdminService,
  InventoryService,
  ProductService,
  ShopAdminService,
  ShopService,
} from "../../gen/bazaar/product/v1/product_pb.ts";
import type { TokenVerifier } from "../kit/auth.ts";
import { bind } from "../kit/serve.ts";
import { serveInMemory, type InMemoryServer } from "../kit/testing/in-memory.ts";
import type { SignedIn } from "../kit/testing/tokens.ts";
import { productAccessRules } from "./access-rules.ts";
import type { ProductDatabase } from "./db/database.ts";
import { createCategoryAdminService } from "./category-admin-service.ts";
import { createInventoryService } from "./inventory-service.ts";
import { createProductService } from "./product-service.ts";
import { createShopAdminService } from "./shop-admin-service.ts";
import { createShopService } from "./shop-service.ts";
import { createLogger } from "../kit/log.ts";
import { SearchIndexStore } from "./db/search-index.ts";
import { createSearchReadModel, type SearchReadModel } from "./domain/search-read-model.ts";

export const currencyCode = "EUR";

export interface ProductServices {
  server: InMemoryServer;
  searchModel: SearchReadModel;
  products: Client<typeof ProductService>;
  shops: Client<typeof ShopService>;
  inventory: Client<typeof InventoryService>;
  shopAdmin: Client<typeof ShopAdminService>;
  categoryAdmin: Client<typeof CategoryAdminService>;
}

/** The product service's handlers as main.ts wires them, with the outbox woken by no relay. */
export async function productServicesInMemory(
  db: Kysely<ProductDatabase>,
  verifier: TokenVerifier,
): Promise<ProductServices> {
  const outbox = { wake() {} };
  // Pictures need object storage: the e2e tests (tests/e2e/media.test.ts) cover them.
  const images = { publicUrl: (key: string) => `http://media.test/${key}` };
  // Searches are answered by a read model of this process's own commits (no stream here).
  const searchModel = createSearchReadModel({
    db,
    store: SearchIndexStore.open(":memory:"),
    log: createLogger("product", "warn"),
  });
  await searchModel.buildAlone();
  const server = serveInMemory({
    services: [
      bind(ProductService, createProductService({ db, outbox, currencyCode, images, searchModel })),
      bind(ShopService, createShopService({ db, outbox, images })),
      bind(InventoryService, createInventoryService({ db, outbox, reservationTtlMs: 60_000 })),
      bind(ShopAdminService, createShopAdminService({ db, outbox, images })),
      bind(CategoryAdminService, createCategoryAdminService({ db, outbox })),
    ],
    rules: productAccessRules,
    verifier,
  });
  return {
    server,
    searchModel,
    products: server.client(ProductService),
    shops: server.client(ShopService),
    inventory: server.client(InventoryService),
    shopAdmin: server.client(ShopAdminService),
    categoryAdmin: server.client(CategoryAdminService),
  };
}

/** A shop in Berlin's Mitte; override what the story needs. */
export function aShop(overrides: { name?: string; latitude?: number; longitude?: number } = {}) {
  return {
    name: overrides.name ?? "Tea corner",
    description: "Loose leaf tea",
    address: { line1: "Torstr. 1", city: "Berlin", postalCode: "10119", countryCode: "DE" },
    location: { latitude: overrides.latitude ?? 52.529, longitude: overrides.longitude ?? 13.401 },
  };
}

/** Opens a shop for `seller` and returns its id. */
export async function openedShop(services: ProductServices, seller: SignedIn, shop = aShop()): Promise<string> {
  return (await services.shops.createShop({ shop }, seller.options)).shop!.id;
}

/** A category with a slug of its own, made by `admin`; returns its id. */
export async function madeCategory(services: ProductServices, admin: SignedIn): Promise<string> {
  const slug = `tea-${randomBytes(4).toString("hex")}`;
  return (await services.products.createCategory({ category: { name: "Tea", slug } }, admin.options)).category!.id;
}

/** A product of a shop, 10 on hand at 4.50 EUR; override what the story needs. */
export function aProduct(
  shopId: string,
  categoryId: string,
  overrides: {
    name?: string;
    priceMinor?: bigint;
    currencyCode?: string;
    stockOnHand?: number;
    featured?: boolean;
  } = {},
) {
  return {
    shopId,
    categoryId,
    name: overrides.name ?? "Sencha",
    description: "Steamed green tea",
    price: { currencyCode: overrides.currencyCode ?? currencyCode, amountMinor: overrides.priceMinor ?? 450n },
    stockOnHand: overrides.stockOnHand ?? 10,
    featured: overrides.featured ?? false,
  };
}
