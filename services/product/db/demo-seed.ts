// Demo catalog for local development (BAZAAR_DEMO_SEED=1): three shops in Berlin owned by the dev
// seller, a two-level category tree and 72 products. Runs once: a database that already has
// categories is left alone, so a second `npm start` never duplicates anything.
import type { Kysely } from "kysely";
import { underNamedLock } from "../../kit/db.ts";
import { devAccounts } from "../../kit/dev-accounts.ts";
import { uuidv7 } from "../../kit/ids.ts";
import type { NewCategoryRow, NewProductRow, NewShopRow, ProductDatabase } from "./database.ts";

const tree: Record<string, string[]> = {
  Groceries: ["Fruit & Vegetables", "Bakery", "Dairy", "Coffee & Tea"],
  Electronics: ["Phones", "Audio", "Computers"],
  Home: ["Kitchen", "Furniture", "Garden"],
  Books: ["Fiction", "Cooking"],
};

const shops = [
  { name: "Kreuzberg Corner Market", lat: 52.4986, lng: 13.4034, street: "Oranienstraße 12" },
  { name: "Mitte Electronics", lat: 52.5208, lng: 13.4095, street: "Alexanderplatz 3" },
  { name: "Prenzlauer Home & Books", lat: 52.5389, lng: 13.4244, street: "Kastanienallee 40" },
];

// [category, name, price in cents, tags, shop index]
const products: Array<[string, string, number, string[], number]> = [
  ["Fruit & Vegetables", "Organic Apples 1kg", 349, ["organic", "fruit", "local"], 0],
  ["Fruit & Vegetables", "Bananas Bunch", 199, ["fruit", "fairtrade"], 0],
  ["Fruit & Vegetables", "Vine Tomatoes 500g", 279, ["vegetables", "fresh"], 0],
  ["Fruit & Vegetables", "Baby Spinach 200g", 229, ["vegetables", "organic"], 0],
  ["Fruit & Vegetables", "Avocado Ripe", 129, ["fruit", "fresh"], 0],
  ["Fruit & Vegetables", "Sweet Potatoes 1kg", 299, ["vegetables", "local"], 0],
  ["Bakery", "Sourdough Loaf", 450, ["bread", "fresh", "local"], 0],
  ["Bakery", "Butter Croissant", 150, ["pastry", "fresh"], 0],
  ["Bakery", "Rye Bread", 390, ["bread", "wholegrain"], 0],
  ["Bakery", "Cinnamon Roll", 220, ["pastry", "sweet"], 0],
  ["Bakery", "Pretzel", 120, ["bread", "classic"], 0],
  ["Dairy", "Whole Milk 1L", 119, ["milk", "local"], 0],
  ["Dairy", "Greek Yogurt 500g", 249, ["yogurt", "protein"], 0],
  ["Dairy", "Aged Gouda 200g", 459, ["cheese", "aged"], 0],
  ["Dairy", "Free-Range Eggs x10", 389, ["eggs", "organic"], 0],
  ["Dairy", "Salted Butter 250g", 289, ["butter", "classic"], 0],
  ["Coffee & Tea", "Espresso Beans 1kg", 1899, ["coffee", "beans", "roasted"], 0],
  ["Coffee & Tea", "Filter Coffee 500g", 899, ["coffee", "ground"], 0],
  ["Coffee & Tea", "Green Tea 50 bags", 499, ["tea", "organic"], 0],
  ["Coffee & Tea", "Earl Grey Loose 100g", 650, ["tea", "classic"], 0],
  ["Coffee & Tea", "Cold Brew Bottle", 349, ["coffee", "cold"], 0],
  ["Coffee & Tea", "Chai Spice Mix", 599, ["tea", "spice"], 0],
  ["Phones", "Pixel-style Phone 128GB", 49900, ["phone", "android", "5g"], 1],
  ["Phones", "Budget Phone 64GB", 14900, ["phone", "android"], 1],
  ["Phones", "Phone Case Clear", 1499, ["phone", "accessory"], 1],
  ["Phones", "USB-C Fast Charger 30W", 2499, ["charger", "usb-c"], 1],
  ["Phones", "Screen Protector 2-pack", 999, ["phone", "accessory"], 1],
  ["Phones", "Wireless Charging Pad", 2999, ["charger", "wireless"], 1],
  ["Audio", "Noise Cancelling Headphones", 24900, ["audio", "wireless", "anc"], 1],
  ["Audio", "True Wireless Earbuds", 8900, ["audio", "wireless"], 1],
  ["Audio", "Bluetooth Speaker", 5900, ["audio", "portable"], 1],
  ["Audio", "Studio Monitor Pair", 29900, ["audio", "studio"], 1],
  ["Audio", "USB Microphone", 7900, ["audio", "podcast"], 1],
  ["Audio", "Headphone Stand", 1999, ["audio", "accessory"], 1],
  ["Computers", "13-inch Ultrabook", 109900, ["laptop", "portable"], 1],
  ["Computers", "Mechanical Keyboard", 8900, ["keyboard", "mechanical"], 1],
  ["Computers", "Wireless Mouse", 2900, ["mouse", "wireless"], 1],
  ["Computers", "27-inch 4K Monitor", 34900, ["monitor", "4k"], 1],
  ["Computers", "USB-C Hub 7-in-1", 3900, ["usb-c", "accessory"], 1],
  ["Computers", "External SSD 1TB", 9900, ["storage", "ssd"], 1],
  ["Kitchen", "Chef's Knife 20cm", 5900, ["knife", "steel"], 2],
  ["Kitchen", "Cast Iron Skillet", 4500, ["pan", "cast-iron"], 2],
  ["Kitchen", "French Press 1L", 2900, ["coffee", "brewing"], 2],
  ["Kitchen", "Bamboo Cutting Board", 1900, ["board", "bamboo"], 2],
  ["Kitchen", "Ceramic Mug Set x4", 2400, ["mug", "ceramic"], 2],
  ["Kitchen", "Digital Kitchen Scale", 1999, ["scale", "baking"], 2],
  ["Furniture", "Oak Side Table", 12900, ["table", "oak"], 2],
  ["Furniture", "Reading Lamp", 4900, ["lamp", "light"], 2],
  ["Furniture", "Wool Throw Blanket", 5900, ["textile", "wool"], 2],
  ["Furniture", "Floor Cushion", 3900, ["cushion", "textile"], 2],
  ["Furniture", "Wall Shelf Pine", 2900, ["shelf", "pine"], 2],
  ["Furniture", "Desk Organizer", 1900, ["desk", "bamboo"], 2],
  ["Garden", "Herb Planter Set", 2900, ["plants", "herbs"], 2],
  ["Garden", "Watering Can 5L", 1900, ["garden", "tools"], 2],
  ["Garden", "Potting Soil 20L", 999, ["soil", "organic"], 2],
  ["Garden", "Pruning Shears", 2400, ["tools", "steel"], 2],
  ["Garden", "Solar Garden Lights x6", 3400, ["light", "solar"], 2],
  ["Garden", "Bird Feeder", 1700, ["birds", "wood"], 2],
  ["Fiction", "The Long Summer (novel)", 1499, ["novel", "paperback"], 2],
  ["Fiction", "City of Glass (novel)", 1299, ["novel", "mystery"], 2],
  ["Fiction", "Short Stories Collection", 999, ["stories", "paperback"], 2],
  ["Fiction", "Science Fiction Anthology", 1899, ["scifi", "hardcover"], 2],
  ["Fiction", "Poetry of the River", 1199, ["poetry", "paperback"], 2],
  ["Fiction", "Graphic Novel Vol. 1", 1699, ["comics", "illustrated"], 2],
  ["Cooking", "Everyday Sourdough", 2499, ["baking", "bread", "hardcover"], 2],
  ["Cooking", "Vegetarian Weeknights", 2199, ["vegetarian", "recipes"], 2],
  ["Cooking", "Coffee at Home", 1999, ["coffee", "brewing"], 2],
  ["Cooking", "The Spice Atlas", 2899, ["spice", "recipes"], 2],
  ["Cooking", "Berlin Street Food", 1899, ["local", "recipes"], 2],
  ["Cooking", "Fermentation Basics", 2299, ["fermentation", "recipes"], 2],
  ["Coffee & Tea", "Matcha Powder 30g", 1499, ["tea", "matcha"], 0],
  ["Bakery", "Apple Strudel", 350, ["pastry", "sweet", "local"], 0],
];

/**
 * Seeds the demo catalog into an empty database; false when it holds categories already. Under a
 * named lock, as the auth service stores its first signing key: two replicas starting together
 * on an empty database each locked the empty range and inserted, and MariaDB picked one as a
 * deadlock's victim, which ended that replica's start (a clean-clone run of the scale-out test).
 */
export async function seedDemoCatalog(db: Kysely<ProductDatabase>, currencyCode: string): Promise<boolean> {
  return underNamedLock(db, "bazaar_product_demo_seed", 30, (connection) => seedIfEmpty(connection, currencyCode));
}

function seedIfEmpty(db: Kysely<ProductDatabase>, currencyCode: string): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const existing = await trx.selectFrom("categories").select("id").forUpdate().limit(1).executeTakeFirst();
    if (existing) return false;

    const categoryIds = new Map<string, string>();
    const categories: NewCategoryRow[] = [];
    Object.entries(tree).forEach(([parent, children], parentIndex) => {
      const parentId = uuidv7();
      categoryIds.set(parent, parentId);
      categories.push({ id: parentId, parent_id: null, name: parent, slug: slugOf(parent), sort_order: parentIndex });
      children.forEach((child, childIndex) => {
        const id = uuidv7();
        categoryIds.set(child, id);
        categories.push({ id, parent_id: parentId, name: child, slug: slugOf(child), sort_order: childIndex });
      });
    });
    await trx.insertInto("categories").values(categories).execute();

    const shopRows: NewShopRow[] = shops.map((shop) => ({
      id: uuidv7(),
      seller_id: devAccounts.seller.id,
      name: shop.name,
      description: `${shop.name}, a demo shop in Berlin.`,
      address: JSON.stringify({
        line1: shop.street,
        line2: "",
        city: "Berlin",
        region: "BE",
        postalCode: "10999",
        countryCode: "DE",
      }),
      latitude: shop.lat,
      longitude: shop.lng,
    }));
    await trx.insertInto("shops").values(shopRows).execute();

    const productRows: NewProductRow[] = products.map(([category, name, cents, tags, shopIndex], index) => ({
      id: uuidv7(),
      shop_id: shopRows[shopIndex]!.id,
      seller_id: devAccounts.seller.id,
      category_id: categoryIds.get(category)!,
      name,
      description: `${name}. Demo product in ${category}.`,
      price_minor: BigInt(cents),
      currency_code: currencyCode,
      tags: JSON.stringify(tags),
      tags_text: tags.join(" "),
      // Pictures come through the media path (domain/demo-pictures.ts), not made-up URLs.
      image_urls: "[]",
      stock_on_hand: 20 + ((index * 37) % 180),
      featured: index % 9 === 0 ? 1 : 0,
    }));
    await trx.insertInto("products").values(productRows).execute();
    return true;
  });
}

function slugOf(name: string): string {
  return name
    .toLowerCase()
    .replace(/&/g, "and")
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "");
}
