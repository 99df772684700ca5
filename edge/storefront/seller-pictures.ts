/// <reference lib="dom" />
// The seller's pictures, in the seller view under the shop's orders: each of the shop's products
// with its gallery as the seller reads it (PROCESSING and FAILED images too), "Add picture",
// and per picture Remove and move left/right. An upload is the client's part of the contract in
// media.proto: CreateImageUpload, the bytes PUT straight to the object store with the headers
// given, ConfirmImageUpload; then the product is read again until the worker has made the
// renditions. A refusal shows on the product's row as text (errors.ts).
import { type Image, ImageStatus, ImageStatusSchema } from "../../gen/bazaar/common/v1/common_pb.ts";
import { ImageSlot } from "../../gen/bazaar/product/v1/media_pb.ts";
import type { Product } from "../../gen/bazaar/product/v1/product_pb.ts";
import type { BazaarClients } from "../sdk/src/index.ts";
import { fromTemplate, part, sleep } from "./dom.ts";
import { action } from "./errors.ts";
import { pictureOf } from "./picture.ts";

/** The signed-in seller's clients (the SDK's). */
export type PictureClients = Pick<BazaarClients, "products" | "media">;

/** How long a new picture may stay PROCESSING before the page stops asking (the worker is queued). */
const processingPatienceMs = 120_000;

/** Shows `products` (one shop's, the seller's own) in `list`, each with its pictures and their controls. */
export function renderSellerProducts(
  list: HTMLElement,
  products: Product[],
  clients: PictureClients,
  signal: AbortSignal,
): void {
  const sorted = [...products].sort((a, b) => a.name.localeCompare(b.name));
  list.replaceChildren(
    ...sorted.map((product) => {
      const row = productRow(product, clients, signal);
      row.dataset.productId = product.id;
      renderPictures(row, product, clients);
      return row;
    }),
  );
}

function productRow(product: Product, clients: PictureClients, signal: AbortSignal): HTMLLIElement {
  const row = fromTemplate<HTMLLIElement>("seller-product-template");
  const name = part<HTMLAnchorElement>(row, ".name");
  name.textContent = product.name;
  name.href = `#product-${product.id}`;
  const file = part<HTMLInputElement>(row, ".picture-file");
  file.setAttribute("aria-label", `Add picture to ${product.name}`);
  file.addEventListener(
    "change",
    action(
      async () => {
        const chosen = file.files?.[0];
        file.value = "";
        if (chosen) await addPicture(row, product.id, chosen, clients, signal);
      },
      part(row, ".row-error"),
    ),
  );
  return row;
}

async function addPicture(
  row: HTMLLIElement,
  productId: string,
  file: File,
  clients: PictureClients,
  signal: AbortSignal,
): Promise<void> {
  const state = part(row, ".picture-state");
  state.textContent = "uploading…";
  try {
    const upload = await clients.media.createImageUpload({
      slot: ImageSlot.PRODUCT_GALLERY,
      ownerId: productId,
      contentType: file.type,
      sizeBytes: BigInt(file.size),
      altText: "",
    });
    const put = await fetch(upload.uploadUrl, { method: "PUT", body: file, headers: upload.uploadHeaders }).catch(
      (error: unknown) => {
        throw new Error(`Could not reach the picture store (${error instanceof Error ? error.message : error}).`);
      },
    );
    if (!put.ok) throw new Error(`The picture store refused the upload (HTTP ${put.status}).`);
    const { image } = await clients.media.confirmImageUpload({ uploadId: upload.uploadId });
    state.textContent = "processing…";
    await untilProcessed(row, productId, image!.id, clients, signal);
  } catch (error) {
    state.textContent = "";
    throw error;
  }
}

/** Reads the product (as its seller) until the new image is READY or FAILED, showing each read. */
async function untilProcessed(
  row: HTMLLIElement,
  productId: string,
  imageId: string,
  clients: PictureClients,
  signal: AbortSignal,
): Promise<void> {
  const state = part(row, ".picture-state");
  const giveUpAt = Date.now() + processingPatienceMs;
  while (!signal.aborted) {
    const { product } = await clients.products.getProduct({ id: productId }, { signal });
    renderPictures(row, product!, clients);
    const image = product!.images.find((candidate) => candidate.id === imageId);
    if (!image) throw new Error("The picture was removed while it was being processed.");
    if (image.status === ImageStatus.READY) {
      state.textContent = "Picture ready.";
      return;
    }
    if (image.status === ImageStatus.FAILED) {
      state.textContent = "";
      throw new Error("The picture could not be processed: try another file.");
    }
    if (Date.now() > giveUpAt) {
      state.textContent = "Still processing: it shows here once it is ready.";
      return;
    }
    await sleep(1_000, signal);
  }
}

function renderPictures(row: HTMLLIElement, product: Product, clients: PictureClients): void {
  const ids = product.images.map((image) => image.id);
  part(row, ".pictures").replaceChildren(
    ...product.images.map((image, index) => pictureItem(row, product, image, index, ids, clients)),
  );
}

function pictureItem(
  row: HTMLLIElement,
  product: Product,
  image: Image,
  index: number,
  ids: string[],
  clients: PictureClients,
): HTMLLIElement {
  const item = fromTemplate<HTMLLIElement>("seller-picture-template");
  item.dataset.imageId = image.id;
  const status = ImageStatusSchema.value[image.status]?.localName ?? `status ${image.status}`;
  item.dataset.status = status;
  const picture =
    image.status === ImageStatus.READY
      ? pictureOf(image, { sizes: "128px", preferred: "thumbnail", lazy: false, fallbackAlt: product.name })
      : undefined;
  part(item, ".frame").replaceChildren(picture ?? "…");
  part(item, ".status").textContent = image.status === ImageStatus.PROCESSING ? "processing…" : status;
  const rowError = part(row, ".row-error");
  const reordered = async (order: string[]) => {
    const { images } = await clients.media.reorderProductImages({ productId: product.id, imageIds: order });
    renderPictures(row, { ...product, images }, clients);
  };
  const move = (by: number) => {
    const order = [...ids];
    [order[index], order[index + by]] = [order[index + by]!, order[index]!];
    return reordered(order);
  };
  const left = part<HTMLButtonElement>(item, ".left");
  const right = part<HTMLButtonElement>(item, ".right");
  left.disabled = index === 0;
  right.disabled = index === ids.length - 1;
  left.addEventListener(
    "click",
    action(() => move(-1), rowError),
  );
  right.addEventListener(
    "click",
    action(() => move(1), rowError),
  );
  part(item, ".remove").addEventListener(
    "click",
    action(async () => {
      await clients.media.deleteProductImage({ productId: product.id, imageId: image.id });
      renderPictures(row, { ...product, images: product.images.filter((other) => other.id !== image.id) }, clients);
    }, rowError),
  );
  return item;
}
