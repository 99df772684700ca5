/// <reference lib="dom" />
// A product picture as the browser should load it: a <picture> whose WebP <source> and JPEG/PNG
// <img> list the renditions by width (thumbnail 160w, card 480w, full 1600w), so the browser
// picks the smallest that fills the slot; width and height from the rendition, so the page does
// not jump when it arrives; and the image's BlurHash painted behind it until it has loaded.
import { decode } from "blurhash";
import { type Image, type ImageRendition, ImageStatus } from "../../gen/bazaar/common/v1/common_pb.ts";

export interface PictureOptions {
  /** The `sizes` attribute: how wide the slot is at each viewport width. */
  sizes: string;
  /** The rendition whose size the <img> announces (its aspect ratio is all of them). */
  preferred: "thumbnail" | "card" | "full";
  /** Lists load pictures as they scroll into view; the product page's main image at once. */
  lazy: boolean;
  /** When the image has no alt text of its own: the product's name. */
  fallbackAlt: string;
}

const isWebp = (rendition: ImageRendition) => rendition.contentType === "image/webp";

const srcset = (renditions: ImageRendition[]) =>
  [...renditions]
    .sort((a, b) => a.width - b.width)
    .map((rendition) => `${rendition.url} ${rendition.width}w`)
    .join(", ");

/** The <picture> for a READY image, or undefined when it has no renditions to show. */
export function pictureOf(image: Image, options: PictureOptions): HTMLPictureElement | undefined {
  const webp = image.renditions.filter(isWebp);
  const fallback = image.renditions.filter((rendition) => !isWebp(rendition));
  const fallbackImg =
    fallback.find((rendition) => rendition.name === options.preferred) ?? fallback[fallback.length - 1];
  if (!fallbackImg) return undefined;
  const picture = document.createElement("picture");
  picture.className = "picture";
  if (webp.length > 0) {
    const source = document.createElement("source");
    source.type = "image/webp";
    source.srcset = srcset(webp);
    source.sizes = options.sizes;
    picture.append(source);
  }
  const img = document.createElement("img");
  img.alt = image.altText || options.fallbackAlt;
  img.width = fallbackImg.width;
  img.height = fallbackImg.height;
  img.srcset = srcset(fallback);
  img.sizes = options.sizes;
  img.src = fallbackImg.url;
  img.decoding = "async";
  if (options.lazy) img.loading = "lazy";
  img.dataset.testid = "product-image";
  picture.append(img);
  const placeholder = placeholderUrl(image.placeholder);
  if (placeholder) {
    picture.style.backgroundImage = `url("${placeholder}")`;
    // The blur is for the wait only: a transparent PNG must not show it through.
    const loaded = () => picture.style.removeProperty("background-image");
    if (img.complete && img.naturalWidth > 0) loaded();
    else img.addEventListener("load", loaded, { once: true });
  }
  return picture;
}

/** The images a buyer may see, main image first (a seller's reads also carry PROCESSING ones). */
export const shownImages = (images: Image[]) =>
  images.filter((image) => image.status === ImageStatus.READY && image.renditions.length > 0);

const placeholders = new Map<string, string>();

/**
 * The BlurHash decoded into a 32 × 32 PNG data URL (the CSP allows data: images), or "" when
 * there is none or it does not decode. Decoded once per hash: lists re-render.
 */
function placeholderUrl(hash: string): string {
  if (!hash) return "";
  const known = placeholders.get(hash);
  if (known !== undefined) return known;
  let url = "";
  try {
    const size = 32;
    const canvas = document.createElement("canvas");
    canvas.width = size;
    canvas.height = size;
    const context = canvas.getContext("2d");
    if (context) {
      const pixels = context.createImageData(size, size);
      pixels.data.set(decode(hash, size, size));
      context.putImageData(pixels, 0, 0);
      url = canvas.toDataURL("image/png");
    }
  } catch {
    // A hash that does not decode costs the placeholder only, never the picture.
    url = "";
  }
  placeholders.set(hash, url);
  return url;
}
