// Grows the bench mesh's catalog to a given size with multi-row INSERTs straight into the
// product database — a load harness, not a service path: a million CreateProduct calls would
// measure argon2 logins and the edge, not the catalog queries the bench is about.
import { createConnection } from "mysql2/promise";
import { uuidv7 } from "../../services/kit/ids.ts";

const adjectives = [
  "red",
  "blue",
  "organic",
  "smart",
  "vintage",
  "compact",
  "deluxe",
  "eco",
  "classic",
  "portable",
  "wireless",
  "handmade",
];
const nouns = [
  "kettle",
  "lamp",
  "espresso",
  "backpack",
  "speaker",
  "notebook",
  "blender",
  "candle",
  "jacket",
  "teapot",
  "headphones",
  "chair",
  "bicycle",
  "camera",
  "sofa",
  "watch",
  "mug",
  "pillow",
  "drone",
  "guitar",
];

/** Resolves with the catalog's size: `targetSize`, or more if it already held more. */
export async function growCatalog(
  serverUrl: string,
  database: string,
  targetSize: number,
  log: (line: string) => void,
): Promise<number> {
  const connection = await createConnection({ uri: serverUrl, database, multipleStatements: false });
  try {
    const [[{ count }]] = (await connection.query("SELECT COUNT(*) AS count FROM products")) as unknown as [
      [{ count: number }],
    ];
    if (count >= targetSize) return count;
    const [[sample]] = (await connection.query("SELECT shop_id, seller_id FROM products LIMIT 1")) as unknown as [
      [{ shop_id: string; seller_id: string }],
    ];
    const [categories] = (await connection.query(
      "SELECT id FROM categories WHERE parent_id IS NOT NULL",
    )) as unknown as [Array<{ id: string }>];
    const started = performance.now();
    const batch = 5_000;
    for (let done = count; done < targetSize; done += batch) {
      const rows = [];
      for (let i = 0; i < Math.min(batch, targetSize - done); i++) {
        const n = done + i;
        const name = `${adjectives[n % adjectives.length]} ${nouns[Math.floor(n / adjectives.length) % nouns.length]} ${n}`;
        // One product in ten thousand carries a rare tag, for the rare-word search.
        const tags = [
          adjectives[n % adjectives.length]!,
          nouns[(n * 7) % nouns.length]!,
          ...(n % 10_000 === 4242 ? ["bench4242"] : []),
        ];
        rows.push([
          uuidv7(),
          sample.shop_id,
          sample.seller_id,
          categories[n % categories.length]!.id,
          name,
          `A ${name} for the bench catalog.`,
          100 + ((n * 7919) % 100_000),
          "USD",
          JSON.stringify(tags),
          tags.join(" "),
          "[]",
          1000,
        ]);
      }
      await connection.query(
        "INSERT INTO products (id, shop_id, seller_id, category_id, name, description, price_minor, currency_code, tags, tags_text, image_urls, stock_on_hand) VALUES ?",
        [rows],
      );
      if ((done / batch) % 20 === 0) log(`  catalog ${done + rows.length}/${targetSize}`);
    }
    log(`  catalog grown to ${targetSize} in ${((performance.now() - started) / 1000).toFixed(0)} s`);
    return targetSize;
  } finally {
    await connection.end();
  }
}

/** The id at a given position of the newest-first order, for a deep page token. */
export async function idAtPosition(serverUrl: string, database: string, position: number): Promise<string> {
  const connection = await createConnection({ uri: serverUrl, database });
  try {
    const [[row]] = (await connection.query(
      "SELECT id FROM products WHERE active = 1 AND delete_time IS NULL ORDER BY id DESC LIMIT 1 OFFSET ?",
      [position],
    )) as unknown as [[{ id: string }]];
    return row.id;
  } finally {
    await connection.end();
  }
}
