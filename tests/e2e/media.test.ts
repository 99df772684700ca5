// Pictures end to end: clients ask the edge for a presigned URL, PUT straight to the mesh's
// S3-compatible store (s3rver, over the real AWS SDK), confirm through the edge; the product
// service checks the stored bytes and its worker makes the renditions. Read back through the
// edge and from storage itself.
import { randomUUID } from "node:crypto";
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { Code, type ConnectError } from "@connectrpc/connect";
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { ImageStatus, type Image } from "../../gen/bazaar/common/v1/common_pb.ts";
import { PaymentMethod } from "../../gen/bazaar/order/v1/order_pb.ts";
import { ImageSlot } from "../../gen/bazaar/product/v1/media_pb.ts";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.ts";
import { type bearer, failureOf } from "../../services/kit/testing/calls.ts";
import { eventually } from "../../services/kit/testing/eventually.ts";
import { executable, hasGpsTag, jpegWithLocation, png, pngBomb, putUpload } from "../support/pictures.ts";
import { devSellerShelf, registerCustomer, registerSeller } from "../support/shoppers.ts";
import { useMesh } from "../support/use-mesh.ts";

const uploadTtlSeconds = 6;
const maxUploadBytes = 2 * 1024 * 1024;
const e2e = useMesh({
  env: {
    BAZAAR_MEDIA_CLEANUP_MS: "300",
    BAZAAR_MEDIA_UPLOAD_TTL_SECONDS: String(uploadTtlSeconds),
    BAZAAR_MEDIA_MAX_UPLOAD_BYTES: String(maxUploadBytes),
  },
});
const { auth, carts, media, orders, products, shops } = e2e;
let asSeller: ReturnType<typeof bearer>;
let asOtherSeller: ReturnType<typeof bearer>;
let asBuyer: ReturnType<typeof bearer>;
let shopId = "";
let categoryId = "";
let s3: S3Client;

beforeAll(async () => {
  ({ asSeller, shopId, categoryId } = await devSellerShelf(auth, products));
  asOtherSeller = await registerSeller(auth, "media-rival");
  asBuyer = await registerCustomer(auth, "media-reader");
  const store = e2e.mesh.objectStore;
  s3 = new S3Client({
    endpoint: store.endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
  });
});

async function newProduct(name = "Pictured"): Promise<string> {
  const { product } = await products.createProduct(
    {
      product: { shopId, categoryId, name, price: { currencyCode: "USD", amountMinor: 900n }, stockOnHand: 5 },
    },
    asSeller,
  );
  return product!.id;
}

/** Keys in the mesh's bucket under `prefix`, read over S3 itself. */
async function storedKeys(prefix: string): Promise<string[]> {
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: e2e.mesh.objectStore.bucket, Prefix: prefix }));
  return (listed.Contents ?? []).map((object) => object.Key!).sort();
}

/**
 * The gallery as a buyer sees it (READY pictures), or as `as` does. Signed in: an anonymous read
 * through the edge may be its cached answer of up to max-age ago.
 */
const gallery = async (productId: string, as: ReturnType<typeof bearer> = asBuyer) =>
  (await products.getProduct({ id: productId }, as)).product!.images;

const readyGallery = (productId: string, count: number) =>
  eventually(
    () => gallery(productId),
    (images) => images.length === count && images.every((i) => i.status === ImageStatus.READY),
    30_000,
    200,
  );

const reasonOf = (error: ConnectError) => error.findDetails(ErrorInfoSchema)[0];

const galleryTarget = (ownerId: string, contentType = "image/jpeg") => ({
  slot: ImageSlot.PRODUCT_GALLERY,
  ownerId,
  contentType,
});

describe("a product's gallery", () => {
  it("when a seller uploads a JPEG with a location in its EXIF, then once processed the product shows its renditions, none with EXIF, and storage holds just them", async () => {
    const productId = await newProduct();
    const original = await jpegWithLocation();
    expect(hasGpsTag((await sharp(original).metadata()).exif)).toBe(true);

    const uploadId = await putUpload(media, asSeller, { ...galleryTarget(productId), altText: "A red mug" }, original);
    const { image } = await media.confirmImageUpload({ uploadId }, asSeller);
    expect(image).toMatchObject({ status: ImageStatus.PROCESSING, width: 1200, height: 800, altText: "A red mug" });
    // Its seller sees it on its way (buyers only once it is READY).
    expect((await gallery(productId, asSeller)).map((i) => i.id)).toEqual([image!.id]);

    const [ready] = await readyGallery(productId, 1);
    expect(ready!.id).toBe(image!.id);
    expect(ready!.placeholder).toMatch(/^[0-9A-Za-z#$%*+,\-.:;=?@[\]^_{|}~]{20,40}$/);
    expect(ready!.renditions.map((r) => `${r.name} ${r.contentType} ${r.width}x${r.height}`)).toEqual([
      "thumbnail image/webp 160x107",
      "thumbnail image/jpeg 160x107",
      "card image/webp 480x320",
      "card image/jpeg 480x320",
      "full image/webp 1200x800",
      "full image/jpeg 1200x800",
    ]);
    for (const rendition of ready!.renditions) {
      const response = await fetch(rendition.url);
      expect(response.status, rendition.url).toBe(200);
      const bytes = Buffer.from(await response.arrayBuffer());
      expect(bytes.length).toBe(Number(rendition.sizeBytes));
      const metadata = await sharp(bytes).metadata();
      expect(`image/${metadata.format}`).toBe(rendition.contentType);
      expect(metadata.exif, `${rendition.name} ${rendition.contentType}`).toBeUndefined();
    }
    expect(await storedKeys(`images/${image!.id}/`)).toEqual(
      ["card.jpg", "card.webp", "full.jpg", "full.webp", "thumbnail.jpg", "thumbnail.webp"].map(
        (file) => `images/${image!.id}/${file}`,
      ),
    );
    // The original, location and all, is deleted once processed.
    expect(
      await eventually(
        () => storedKeys(`uploads/${uploadId}`),
        (keys) => keys.length === 0,
        10_000,
      ),
    ).toEqual([]);
    // Confirming again answers the same image.
    expect((await media.confirmImageUpload({ uploadId }, asSeller)).image!.id).toBe(image!.id);
  });

  it("when pictures are reordered, captioned and deleted, then reads follow, and a deleted one's files stay for orders that show it", async () => {
    const productId = await newProduct();
    const ids: string[] = [];
    for (const color of [
      { r: 250, g: 0, b: 0 },
      { r: 0, g: 250, b: 0 },
      { r: 0, g: 0, b: 250 },
    ]) {
      const uploadId = await putUpload(
        media,
        asSeller,
        galleryTarget(productId),
        await jpegWithLocation(400, 300, color),
      );
      ids.push((await media.confirmImageUpload({ uploadId }, asSeller)).image!.id);
    }
    expect((await readyGallery(productId, 3)).map((i) => i.id)).toEqual(ids);

    const reordered = [ids[2]!, ids[0]!, ids[1]!];
    expect(
      (await media.reorderProductImages({ productId, imageIds: reordered }, asSeller)).images.map((i) => i.id),
    ).toEqual(reordered);
    expect((await gallery(productId)).map((i) => i.id)).toEqual(reordered);
    const refused = await failureOf(media.reorderProductImages({ productId, imageIds: [ids[0]!] }, asSeller));
    expect(refused.code).toBe(Code.InvalidArgument);
    expect(refused.rawMessage).toMatch(/^image_ids: /);

    await media.updateProductImage({ productId, imageId: ids[0]!, altText: "Green side" }, asSeller);
    expect((await gallery(productId)).find((i) => i.id === ids[0])!.altText).toBe("Green side");

    await media.deleteProductImage({ productId, imageId: ids[2]! }, asSeller);
    expect((await gallery(productId)).map((i) => i.id)).toEqual([ids[0], ids[1]]);
    expect(await storedKeys(`images/${ids[2]}/`)).toHaveLength(6);
    expect((await failureOf(media.deleteProductImage({ productId, imageId: ids[2]! }, asSeller))).code).toBe(
      Code.NotFound,
    );
  });
});

describe("pictures in carts and orders", () => {
  it("when a buyer carts and orders a pictured product, then both lines carry its main image, and the order keeps it after the seller deletes it", async () => {
    const productId = await newProduct("Pictured mug");
    const uploadId = await putUpload(media, asSeller, galleryTarget(productId), await jpegWithLocation(600, 400));
    const imageId = (await media.confirmImageUpload({ uploadId }, asSeller)).image!.id;
    const [ready] = await readyGallery(productId, 1);

    const buyer = await registerCustomer(auth, "pictures");
    await carts.addCartItem({ productId, quantity: 1 }, buyer);
    const [line] = (await carts.getCart({}, buyer)).cart!.items;
    expect(line!.image).toEqual(ready);
    expect(line!.imageUrl).toBe(
      ready!.renditions.find((r) => r.name === "card" && r.contentType === "image/webp")!.url,
    );

    const { order } = await orders.placeOrder(
      {
        idempotencyKey: randomUUID(),
        shippingAddress: {
          recipientName: "P",
          line1: "1 Picture St",
          city: "Berlin",
          postalCode: "10115",
          countryCode: "DE",
        },
        payment: { method: PaymentMethod.CARD, cardToken: "tok_visa" },
      },
      buyer,
    );
    expect(order!.items[0]!.image).toEqual(ready);

    await media.deleteProductImage({ productId, imageId }, asSeller);
    expect(await gallery(productId)).toEqual([]);
    // The order shows the picture it was bought with, and it still loads.
    const kept = (await orders.getOrder({ id: order!.id }, buyer)).order!.items[0]!.image!;
    expect(kept.id).toBe(imageId);
    for (const rendition of kept.renditions) expect((await fetch(rendition.url)).status, rendition.url).toBe(200);
    // Carts follow the product: ProductUpdated said it has no picture now.
    await carts.addCartItem({ productId, quantity: 1 }, buyer);
    expect(
      await eventually(
        async () => (await carts.getCart({}, buyer)).cart!.items[0]!.image,
        (image) => image === undefined,
        10_000,
      ),
    ).toBeUndefined();
  });
});

describe("who may change pictures", () => {
  it("when another seller, a customer or nobody signed in tries, then each is refused and nothing changes", async () => {
    const productId = await newProduct();
    const uploadId = await putUpload(media, asSeller, galleryTarget(productId), await jpegWithLocation(300, 200));
    const imageId = (await media.confirmImageUpload({ uploadId }, asSeller)).image!.id;
    await readyGallery(productId, 1);
    const pendingId = await putUpload(media, asSeller, galleryTarget(productId), await jpegWithLocation(300, 200));
    const customer = await registerCustomer(auth, "media");

    const attempts: Array<[string, (as: ReturnType<typeof bearer> | undefined) => Promise<unknown>]> = [
      ["CreateImageUpload", (as) => media.createImageUpload({ ...galleryTarget(productId), sizeBytes: 100n }, as)],
      ["ConfirmImageUpload", (as) => media.confirmImageUpload({ uploadId: pendingId }, as)],
      ["ReorderProductImages", (as) => media.reorderProductImages({ productId, imageIds: [imageId] }, as)],
      ["UpdateProductImage", (as) => media.updateProductImage({ productId, imageId, altText: "mine now" }, as)],
      ["DeleteProductImage", (as) => media.deleteProductImage({ productId, imageId }, as)],
      [
        "CreateImageUpload (shop logo)",
        (as) =>
          media.createImageUpload(
            { slot: ImageSlot.SHOP_LOGO, ownerId: shopId, contentType: "image/png", sizeBytes: 100n },
            as,
          ),
      ],
      ["DeleteShopImage", (as) => media.deleteShopImage({ shopId, slot: ImageSlot.SHOP_LOGO }, as)],
    ];
    const outcomes: string[] = [];
    for (const [rpc, call] of attempts) {
      for (const [who, as] of [
        ["other seller", asOtherSeller],
        ["customer", customer],
        ["anonymous", undefined],
      ] as const) {
        outcomes.push(`${rpc} ${who}: ${Code[(await failureOf(call(as))).code]}`);
      }
    }
    expect(outcomes).toEqual(
      attempts.flatMap(([rpc]) => [
        `${rpc} other seller: PermissionDenied`,
        `${rpc} customer: PermissionDenied`,
        `${rpc} anonymous: Unauthenticated`,
      ]),
    );
    const [after] = await gallery(productId, asSeller);
    expect(after).toMatchObject({ id: imageId, altText: "" });
    expect(await gallery(productId, asSeller)).toHaveLength(1);
    // Its seller can still confirm the upload nobody else could.
    expect((await media.confirmImageUpload({ uploadId: pendingId }, asSeller)).image!.status).toBe(
      ImageStatus.PROCESSING,
    );
  });
});

describe("pictures that are refused", () => {
  const refusal = async (uploadId: string) => {
    const error = await failureOf(media.confirmImageUpload({ uploadId }, asSeller));
    return { code: error.code, ...reasonOf(error), message: error.rawMessage };
  };

  it("when an executable is uploaded as image/png, a 40-megapixel PNG bomb or more bytes than declared, then confirm says why and storage keeps nothing", async () => {
    const productId = await newProduct();
    const exe = await putUpload(media, asSeller, galleryTarget(productId, "image/png"), executable());
    expect(await refusal(exe)).toMatchObject({
      code: Code.InvalidArgument,
      reason: "IMAGE_TYPE_NOT_ALLOWED",
      metadata: { detected_type: "application/x-elf" },
    });

    const bomb = await putUpload(media, asSeller, galleryTarget(productId, "image/png"), await pngBomb());
    expect(await refusal(bomb)).toMatchObject({
      code: Code.InvalidArgument,
      reason: "IMAGE_DIMENSIONS_TOO_LARGE",
      metadata: { width: "8000", height: "5000", max_pixels: "25000000" },
    });

    const picture = await png(300, 300);
    const liar = await putUpload(media, asSeller, galleryTarget(productId, "image/png"), picture, 100);
    expect(await refusal(liar)).toMatchObject({
      code: Code.InvalidArgument,
      reason: "IMAGE_TOO_LARGE",
      metadata: { size_bytes: String(picture.length), max_size_bytes: "100" },
    });

    for (const uploadId of [exe, bomb, liar]) expect(await storedKeys(`uploads/${uploadId}`)).toEqual([]);
    expect(await gallery(productId, asSeller)).toEqual([]);
    // A refused upload stays refused.
    expect(await refusal(exe)).toMatchObject({ code: Code.NotFound, reason: "UPLOAD_NOT_FOUND" });
  });

  it("when a picture is cut short after a whole header, then confirm takes it and the worker marks it FAILED for its seller only", async () => {
    const productId = await newProduct();
    const whole = await jpegWithLocation(800, 600);
    const uploadId = await putUpload(
      media,
      asSeller,
      galleryTarget(productId),
      whole.subarray(0, Math.floor(whole.length / 2)),
    );
    const { image } = await media.confirmImageUpload({ uploadId }, asSeller);
    expect(image!.status).toBe(ImageStatus.PROCESSING);
    const seen = await eventually(
      () => gallery(productId, asSeller),
      (images) => images[0]?.status === ImageStatus.FAILED,
      30_000,
      200,
    );
    expect(seen.map((i) => [i.id, i.status, i.renditions.length])).toEqual([[image!.id, ImageStatus.FAILED, 0]]);
    expect(await gallery(productId)).toEqual([]);
  });

  it("when the size asked for is over the limit, then no URL is handed out", async () => {
    const productId = await newProduct();
    const error = await failureOf(
      media.createImageUpload({ ...galleryTarget(productId), sizeBytes: BigInt(maxUploadBytes + 1) }, asSeller),
    );
    expect(error.code).toBe(Code.InvalidArgument);
    expect(reasonOf(error)).toMatchObject({
      reason: "IMAGE_TOO_LARGE",
      metadata: { size_bytes: String(maxUploadBytes + 1), max_size_bytes: String(maxUploadBytes) },
    });
    const wrongType = await failureOf(
      media.createImageUpload({ ...galleryTarget(productId, "application/pdf"), sizeBytes: 10n }, asSeller),
    );
    expect(wrongType.code).toBe(Code.InvalidArgument);
    expect(wrongType.rawMessage).toMatch(/content_type/);
  });

  it("when an upload is never confirmed, then after it expires the cleanup deletes it and confirm finds nothing", async () => {
    const productId = await newProduct();
    const uploadId = await putUpload(media, asSeller, galleryTarget(productId), await jpegWithLocation(200, 200));
    expect(await storedKeys(`uploads/${uploadId}`)).toEqual([`uploads/${uploadId}`]);
    const gone = await eventually(
      () => storedKeys(`uploads/${uploadId}`),
      (keys) => keys.length === 0,
      (uploadTtlSeconds + 10) * 1000,
      250,
    );
    expect(gone).toEqual([]);
    expect(await refusal(uploadId)).toMatchObject({ code: Code.NotFound, reason: "UPLOAD_NOT_FOUND" });
  }, 30_000);
});

describe("a shop's logo", () => {
  it("when a seller uploads a logo and then another, then the shop shows the newer one and the older one's files go", async () => {
    const logo = async (color: { r: number; g: number; b: number }) => {
      const picture = await sharp({
        create: { width: 256, height: 256, channels: 4, background: { ...color, alpha: 1 } },
      })
        .png()
        .toBuffer();
      const uploadId = await putUpload(
        media,
        asSeller,
        { slot: ImageSlot.SHOP_LOGO, ownerId: shopId, contentType: "image/png" },
        picture,
      );
      return (await media.confirmImageUpload({ uploadId }, asSeller)).image!.id;
    };
    const readyLogo = (id: string) =>
      eventually(
        async () => (await shops.getShop({ id: shopId }, asBuyer)).shop!.logo,
        (image?: Image) => image?.id === id && image.status === ImageStatus.READY,
        30_000,
        200,
      );
    const first = await logo({ r: 10, g: 10, b: 10 });
    expect((await readyLogo(first))!.renditions.map((r) => r.contentType)).toEqual([
      "image/webp",
      "image/png",
      "image/webp",
      "image/png",
      "image/webp",
      "image/png",
    ]);
    const second = await logo({ r: 240, g: 240, b: 240 });
    expect((await readyLogo(second))!.id).toBe(second);
    expect(
      await eventually(
        () => storedKeys(`images/${first}/`),
        (keys) => keys.length === 0,
        10_000,
      ),
    ).toEqual([]);
    await media.deleteShopImage({ shopId, slot: ImageSlot.SHOP_LOGO }, asSeller);
    expect((await shops.getShop({ id: shopId }, asBuyer)).shop!.logo).toBeUndefined();
  });
});

describe("the image worker across a crash", () => {
  it("when the product service is SIGKILLed while images are being processed, then after restart each has its renditions exactly once", async () => {
    const productId = await newProduct("Crash gallery");
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const uploadId = await putUpload(
        media,
        asSeller,
        galleryTarget(productId),
        await jpegWithLocation(1600, 1200, { r: 40 * i, g: 90, b: 200 - 30 * i }),
      );
      ids.push((await media.confirmImageUpload({ uploadId }, asSeller)).image!.id);
    }
    // Mid-batch: some are still being processed when the process dies.
    const atKill = (await gallery(productId, asSeller)).map((i) => i.status);
    await e2e.mesh.kill("product", "SIGKILL");
    expect(atKill).toContain(ImageStatus.PROCESSING);
    e2e.mesh.relaunch("product");
    await e2e.mesh.ready(60_000);
    expect((await readyGallery(productId, 6)).map((i) => i.id)).toEqual(ids);
    for (const id of ids) expect(await storedKeys(`images/${id}/`), id).toHaveLength(6);
  }, 90_000);
});
