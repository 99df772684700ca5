// Pictures for tests, made with sharp: a JPEG that carries a GPS location in its EXIF, a PNG
// whose header claims 40 megapixels (a decompression bomb that compresses to ~120 KB), and an
// executable that is no picture at all. Plus the upload a client makes: ask, PUT, confirm.
import type { Client } from "@connectrpc/connect";
import sharp from "sharp";
import type { MediaService } from "../../gen/bazaar/product/v1/media_pb.ts";
import type { ImageSlot } from "../../gen/bazaar/product/v1/media_pb.ts";

export async function jpegWithLocation(width = 1200, height = 800, color = { r: 200, g: 80, b: 40 }): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: color } })
    .jpeg()
    .withExif({
      IFD0: { Copyright: "Bazaar test picture" },
      // Berlin, as a phone camera writes it.
      IFD3: { GPSLatitudeRef: "N", GPSLatitude: "52/1 31/1 0/1", GPSLongitudeRef: "E", GPSLongitude: "13/1 24/1 0/1" },
    })
    .toBuffer();
}

export async function png(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 4, background: { r: 20, g: 120, b: 200, alpha: 0.5 } } })
    .png()
    .toBuffer();
}

/** 8000 × 5000 = 40 megapixels, one flat colour: tiny on disk, 160 MB once decoded. */
export function pngBomb(): Promise<Buffer> {
  return sharp({ create: { width: 8000, height: 5000, channels: 3, background: "white" } })
    .png({ compressionLevel: 9 })
    .toBuffer();
}

/** The start of an x86-64 ELF executable. */
export function executable(): Buffer {
  return Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x01, 0x00]), Buffer.alloc(4_000, 0x90)]);
}

/** The GPS IFD pointer tag (0x8825) in either byte order: a location is in this EXIF. */
export function hasGpsTag(exif: Buffer | undefined): boolean {
  if (!exif) return false;
  return exif.includes(Buffer.from([0x88, 0x25])) || exif.includes(Buffer.from([0x25, 0x88]));
}

/**
 * What a client does: asks for an upload, PUTs the bytes straight to storage with the headers it
 * was given, and returns the upload id to confirm. `declaredSize` lies about the size, as a
 * client may.
 */
export async function putUpload(
  media: Client<typeof MediaService>,
  as: { headers: Record<string, string> },
  target: { slot: ImageSlot; ownerId: string; contentType: string; altText?: string },
  bytes: Buffer,
  declaredSize = bytes.length,
): Promise<string> {
  const upload = await media.createImageUpload(
    { ...target, altText: target.altText ?? "", sizeBytes: BigInt(declaredSize) },
    as,
  );
  const put = await fetch(upload.uploadUrl, {
    method: "PUT",
    body: new Uint8Array(bytes),
    headers: upload.uploadHeaders,
  });
  if (!put.ok) throw new Error(`PUT to storage answered ${put.status}: ${await put.text()}`);
  return upload.uploadId;
}
