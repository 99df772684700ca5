// LOCAL DEV: a picture for every demo product (BAZAAR_DEMO_PICTURES, on with the demo seed), so a
// newcomer's storefront shows pictures. Each goes the way a seller's upload does — an upload, the
// bytes in storage, a confirm that checks them, the worker's renditions — so the demo proves the
// path too. Drawn here (an SVG of soft shapes in a colour of the product's name, rendered by
// sharp): nothing is downloaded, nothing binary is committed.
import { createHash } from "node:crypto";
import sharp from "sharp";
import type { Caller } from "../../kit/auth.ts";
import { devAccounts } from "../../kit/dev-accounts.ts";
import type { Logger } from "../../kit/log.ts";
import { productsWithoutPictures } from "../db/media.repository.ts";
import { uploadKey } from "../media/storage.ts";
import { confirmImageUpload, createImageUpload, type MediaDeps } from "./media.ts";

const seller: Caller = { id: devAccounts.seller.id, role: "seller", issuedAt: 0 };

/** A 640×480 JPEG, different for each name: a gradient and three circles. */
export async function demoPicture(name: string): Promise<Buffer> {
  const hash = createHash("sha256").update(name).digest();
  const hue = (hash[0]! * 360) / 256;
  const color = (shift: number, lightness: number) => `hsl(${(hue + shift) % 360}, 65%, ${lightness}%)`;
  const circles = [0, 1, 2]
    .map((i) => {
      const [x, y, r] = [hash[1 + i]! * 2.5, hash[4 + i]! * 1.9, 40 + (hash[7 + i]! % 90)];
      return `<circle cx="${x}" cy="${y}" r="${r}" fill="${color(40 * (i + 1), 70)}" fill-opacity="0.55"/>`;
    })
    .join("");
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="640" height="480">
    <defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1">
      <stop offset="0" stop-color="${color(0, 55)}"/><stop offset="1" stop-color="${color(180, 35)}"/>
    </linearGradient></defs>
    <rect width="640" height="480" fill="url(#g)"/>${circles}</svg>`;
  return sharp(Buffer.from(svg)).jpeg({ quality: 80 }).toBuffer();
}

/**
 * Uploads a picture for each of the dev seller's products that never had one. Safe on every
 * start: a product with a picture (even one its seller deleted) is left alone; storage that is
 * away leaves the rest for the next start (an upload it began expires and is cleaned up).
 */
export async function addDemoPictures(deps: MediaDeps, log: Logger): Promise<number> {
  let added = 0;
  for (const product of await productsWithoutPictures(deps.db, seller.id)) {
    try {
      const bytes = await demoPicture(product.name);
      const upload = await createImageUpload(deps, seller, {
        slot: "PRODUCT_GALLERY",
        ownerId: product.id,
        contentType: "image/jpeg",
        sizeBytes: bytes.length,
        altText: product.name,
      });
      // What the browser's PUT to the presigned URL would store.
      await deps.storage.put(uploadKey(upload.uploadId), bytes, "image/jpeg");
      await confirmImageUpload(deps, seller, upload.uploadId);
      added++;
    } catch (error) {
      log.warn({ err: error, productId: product.id }, "demo picture not added; the next start tries again");
      break;
    }
  }
  return added;
}
