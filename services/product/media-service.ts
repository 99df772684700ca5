// MediaService: proto ↔ domain, domain errors → ConnectError.
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { ImageSlot, type MediaService } from "../../gen/bazaar/product/v1/media_pb.ts";
import { callerOf } from "../kit/auth.ts";
import { reasonedError } from "../kit/error-info.ts";
import type { ImageSlotName } from "./db/database.ts";
import { ProductNotFoundError } from "./domain/catalog.ts";
import { NotAllowedError, ShopNotFoundError } from "./domain/manage-catalog.ts";
import {
  confirmImageUpload,
  createImageUpload,
  deleteProductImage,
  deleteShopImage,
  GalleryFullError,
  ImageNotFoundError,
  InvalidGalleryOrderError,
  reorderProductImages,
  updateProductImage,
  UploadNotFoundError,
  type MediaDeps,
} from "./domain/media.ts";
import { imageToProto } from "./media/image-proto.ts";
import { ImageRefusedError } from "./media/images.ts";
import { StorageUnavailableError } from "./media/storage.ts";

const slotNames: Partial<Record<ImageSlot, ImageSlotName>> = {
  [ImageSlot.PRODUCT_GALLERY]: "PRODUCT_GALLERY",
  [ImageSlot.SHOP_LOGO]: "SHOP_LOGO",
  [ImageSlot.SHOP_COVER]: "SHOP_COVER",
};

export function createMediaService(deps: MediaDeps): ServiceImpl<typeof MediaService> {
  return {
    async createImageUpload(request, ctx) {
      const upload = await mapErrors(() =>
        createImageUpload(deps, callerOf(ctx), {
          slot: slotNames[request.slot]!,
          ownerId: request.ownerId,
          contentType: request.contentType,
          sizeBytes: Number(request.sizeBytes),
          altText: request.altText,
        }),
      );
      return {
        uploadId: upload.uploadId,
        uploadUrl: upload.uploadUrl,
        uploadHeaders: upload.uploadHeaders,
        expireTime: timestampFromDate(upload.expireTime),
        maxSizeBytes: BigInt(upload.maxSizeBytes),
      };
    },
    async confirmImageUpload(request, ctx) {
      const image = await mapErrors(() => confirmImageUpload(deps, callerOf(ctx), request.uploadId));
      return { image: imageToProto(image, deps.storage) };
    },
    async reorderProductImages(request, ctx) {
      const images = await mapErrors(() =>
        reorderProductImages(deps, callerOf(ctx), request.productId, request.imageIds),
      );
      return { images: images.map((image) => imageToProto(image, deps.storage)) };
    },
    async updateProductImage(request, ctx) {
      const image = await mapErrors(() =>
        updateProductImage(deps, callerOf(ctx), request.productId, request.imageId, request.altText),
      );
      return { image: imageToProto(image, deps.storage) };
    },
    async deleteProductImage(request, ctx) {
      await mapErrors(() => deleteProductImage(deps, callerOf(ctx), request.productId, request.imageId));
      return {};
    },
    async deleteShopImage(request, ctx) {
      await mapErrors(() => deleteShopImage(deps, callerOf(ctx), request.shopId, slotNames[request.slot]!));
      return {};
    },
  };
}

async function mapErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof ImageRefusedError) {
      // A refusal's metadata keys are its reason's (kit/error-reasons.ts).
      throw reasonedError(error.reason, error.message, error.metadata as never);
    }
    if (error instanceof UploadNotFoundError)
      throw reasonedError("UPLOAD_NOT_FOUND", error.message, { upload_id: error.uploadId });
    if (error instanceof GalleryFullError)
      throw reasonedError("GALLERY_FULL", error.message, {
        product_id: error.productId,
        max_images: String(error.maxImages),
      });
    if (error instanceof InvalidGalleryOrderError) throw new ConnectError(error.message, Code.InvalidArgument);
    if (error instanceof ProductNotFoundError) throw new ConnectError(error.message, Code.NotFound);
    if (error instanceof ShopNotFoundError || error instanceof ImageNotFoundError)
      throw new ConnectError(error.message, Code.NotFound);
    if (error instanceof NotAllowedError) throw new ConnectError(error.message, Code.PermissionDenied);
    if (error instanceof StorageUnavailableError) throw new ConnectError(error.message, Code.Unavailable);
    throw error;
  }
}
