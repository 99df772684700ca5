// An image row as the contracts show it (bazaar.common.v1.Image): renditions with their public
// URLs, smallest first.
import { create } from "@bufbuild/protobuf";
import { type Image, ImageSchema, ImageStatus } from "../../../gen/bazaar/common/v1/common_pb.ts";
import type { ImageRow, StoredRendition } from "../db/database.ts";
import { renditionKey, type ObjectStorage } from "./storage.ts";

export type ImageUrls = Pick<ObjectStorage, "publicUrl">;

const statuses = {
  PROCESSING: ImageStatus.PROCESSING,
  READY: ImageStatus.READY,
  FAILED: ImageStatus.FAILED,
  DELETED: ImageStatus.UNSPECIFIED,
} as const;

export function imageToProto(row: ImageRow, urls: ImageUrls): Image {
  const renditions = (
    typeof row.renditions === "string" ? JSON.parse(row.renditions) : row.renditions
  ) as StoredRendition[];
  return create(ImageSchema, {
    id: row.id,
    altText: row.alt_text,
    status: statuses[row.status],
    width: row.width,
    height: row.height,
    placeholder: row.placeholder,
    renditions: renditions.map((r) => ({
      name: r.name,
      contentType: r.contentType,
      width: r.width,
      height: r.height,
      sizeBytes: BigInt(r.sizeBytes),
      url: urls.publicUrl(renditionKey(row.id, r.file)),
    })),
  });
}

/** The URL a one-image field (a cart line's image_url) shows: the card-sized WebP. */
export function mainImageUrl(image: Image | undefined): string | undefined {
  return image?.renditions.find((r) => r.name === "card" && r.contentType === "image/webp")?.url;
}
