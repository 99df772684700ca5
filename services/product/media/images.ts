// What the service does with a picture's bytes: check them (the real type by their bytes, the
// size, the pixel dimensions read from the header before anything is decoded) and make the
// renditions and placeholder (sharp, which writes no metadata unless asked: EXIF and its
// location are gone). Plain functions over bytes; storage and the database are the callers'.
import { encode } from "blurhash";
import { fileTypeFromBuffer } from "file-type";
import sharp from "sharp";

export const imageTypes = ["image/jpeg", "image/png", "image/webp", "image/avif"] as const;
export type ImageType = (typeof imageTypes)[number];

export type RefusalReason =
  | "IMAGE_TYPE_NOT_ALLOWED"
  | "IMAGE_TOO_LARGE"
  | "IMAGE_DIMENSIONS_TOO_LARGE"
  | "IMAGE_UNREADABLE";

/** A picture the service does not take, with what a client needs to say why. */
export class ImageRefusedError extends Error {
  override name = "ImageRefusedError";
  readonly reason: RefusalReason;
  readonly metadata: Record<string, string>;
  constructor(reason: RefusalReason, message: string, metadata: Record<string, string>) {
    super(message);
    this.reason = reason;
    this.metadata = metadata;
  }
}

export interface ImageLimits {
  maxBytes: number;
  maxPixels: number;
}

export interface CheckedImage {
  type: ImageType;
  /** As shown: after the EXIF orientation. */
  width: number;
  height: number;
}

/** Checks an uploaded picture; throws ImageRefusedError for anything it does not take. */
export async function checkImage(bytes: Buffer, declared: string, limits: ImageLimits): Promise<CheckedImage> {
  if (bytes.length > limits.maxBytes)
    throw new ImageRefusedError(
      "IMAGE_TOO_LARGE",
      `the picture has ${bytes.length} bytes, at most ${limits.maxBytes} are taken`,
      {
        size_bytes: String(bytes.length),
        max_size_bytes: String(limits.maxBytes),
      },
    );
  const detected = (await fileTypeFromBuffer(bytes))?.mime ?? "unknown";
  if (!(imageTypes as readonly string[]).includes(detected) || detected !== declared)
    throw new ImageRefusedError(
      "IMAGE_TYPE_NOT_ALLOWED",
      `the file is ${detected === "unknown" ? "of no known type" : detected}, not the ${declared} it was uploaded as (JPEG, PNG, WebP or AVIF are taken)`,
      { detected_type: detected },
    );
  let width: number;
  let height: number;
  try {
    // Reads the header only: a bomb's dimensions are known before a pixel is decoded.
    const metadata = await sharp(bytes).metadata();
    const turned = (metadata.orientation ?? 1) >= 5;
    width = turned ? metadata.height : metadata.width;
    height = turned ? metadata.width : metadata.height;
  } catch (error) {
    throw new ImageRefusedError("IMAGE_UNREADABLE", `the picture cannot be read: ${(error as Error).message}`, {});
  }
  if (!width || !height) throw new ImageRefusedError("IMAGE_UNREADABLE", "the picture has no dimensions", {});
  if (width * height > limits.maxPixels)
    throw new ImageRefusedError(
      "IMAGE_DIMENSIONS_TOO_LARGE",
      `the picture is ${width}×${height} pixels, at most ${limits.maxPixels} pixels are taken`,
      { width: String(width), height: String(height), max_pixels: String(limits.maxPixels) },
    );
  return { type: detected as ImageType, width, height };
}

/** The sizes every picture is made in: at most this wide, never enlarged. */
export const renditionSizes = [
  { name: "thumbnail", width: 160 },
  { name: "card", width: 480 },
  { name: "full", width: 1600 },
] as const;

export interface RenditionFile {
  name: string;
  /** The file name under the image's prefix, e.g. "card.webp". */
  file: string;
  contentType: string;
  width: number;
  height: number;
  bytes: Buffer;
}

export interface RenderedImage {
  /** BlurHash, 4×3 components. */
  placeholder: string;
  /** Smallest first; each size in WebP, then in the fallback format. */
  files: RenditionFile[];
}

/**
 * Every rendition and the placeholder. WebP for browsers that take it; for the others PNG when
 * the upload was PNG (it may be transparent), JPEG otherwise (old clients know neither WebP nor
 * AVIF).
 */
export async function renderImage(
  bytes: Buffer,
  type: ImageType,
  limits: Pick<ImageLimits, "maxPixels">,
): Promise<RenderedImage> {
  const source = () => sharp(bytes, { limitInputPixels: limits.maxPixels }).rotate();
  const fallback = type === "image/png" ? "png" : "jpeg";
  const files: RenditionFile[] = [];
  for (const size of renditionSizes) {
    for (const format of ["webp", fallback] as const) {
      let pipeline = source().resize({ width: size.width, withoutEnlargement: true });
      pipeline =
        format === "webp"
          ? pipeline.webp({ quality: 80 })
          : format === "png"
            ? pipeline.png()
            : pipeline.flatten({ background: "#ffffff" }).jpeg({ quality: 82 });
      const { data, info } = await pipeline.toBuffer({ resolveWithObject: true });
      files.push({
        name: size.name,
        file: `${size.name}.${format === "jpeg" ? "jpg" : format}`,
        contentType: `image/${format}`,
        width: info.width,
        height: info.height,
        bytes: data,
      });
    }
  }
  const small = await source()
    .resize(32, 32, { fit: "inside" })
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const placeholder = encode(new Uint8ClampedArray(small.data), small.info.width, small.info.height, 4, 3);
  return { placeholder, files };
}
