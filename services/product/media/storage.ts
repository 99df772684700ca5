// Object storage for pictures, over the S3 protocol (AWS SDK v3): any S3-compatible store in
// production, s3rver under `npm start` and the tests. Two prefixes: `uploads/<upload id>` holds
// what a client PUT (private: its EXIF may say where the seller lives), `images/<image id>/…`
// the renditions, which buyers GET through the public base URL (a CDN in production).
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import type { MediaConfig } from "./config.ts";

/** The store did not answer, or answered with a server error: worth trying again later. */
export class StorageUnavailableError extends Error {
  override name = "StorageUnavailableError";
}

export interface StoredObject {
  bytes: Buffer;
  contentType: string;
}

export interface ObjectStorage {
  /** A URL that takes one PUT of exactly `sizeBytes` of `contentType` until `expiresInSeconds`. */
  presignPut(key: string, contentType: string, sizeBytes: number, expiresInSeconds: number): Promise<string>;
  /** Its size, or undefined when there is no such object. */
  sizeOf(key: string): Promise<number | undefined>;
  /** The object's bytes, or undefined when there is no such object. */
  get(key: string): Promise<StoredObject | undefined>;
  put(key: string, bytes: Buffer, contentType: string): Promise<void>;
  /** Deleting what is not there is no error. */
  delete(key: string): Promise<void>;
  /** Where buyers GET an object of the `images/` prefix. */
  publicUrl(key: string): string;
}

export function uploadKey(uploadId: string): string {
  return `uploads/${uploadId}`;
}

export function renditionKey(imageId: string, file: string): string {
  return `images/${imageId}/${file}`;
}

export function createS3Storage(config: MediaConfig): ObjectStorage & { close(): void } {
  const client = new S3Client({
    endpoint: config.s3Endpoint,
    region: config.s3Region,
    forcePathStyle: config.s3ForcePathStyle,
    credentials: { accessKeyId: config.s3AccessKeyId, secretAccessKey: config.s3SecretAccessKey },
    // Checksums only where S3 requires them: a presigned PUT with a checksum the browser cannot
    // compute beforehand would be refused, and not every S3-compatible store knows them.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    // A store that is away fails the call in seconds; the caller retries (the worker's consumer
    // redelivers, a client confirms again).
    requestHandler: { connectionTimeout: 3_000, requestTimeout: 20_000 },
    maxAttempts: 2,
  });
  const bucket = config.bucket;
  const missing = (error: unknown) =>
    error instanceof S3ServiceException && (error.$metadata.httpStatusCode === 404 || error.name === "NoSuchKey");
  /** The call, with a store that is away or failing turned into StorageUnavailableError. */
  const send = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      const status = error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined;
      if (status !== undefined && status < 500) throw error;
      throw new StorageUnavailableError(`object storage is unavailable: ${(error as Error).message}`, { cause: error });
    }
  };
  return {
    close: () => client.destroy(),
    presignPut(key, contentType, sizeBytes, expiresInSeconds) {
      const command = new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        ContentType: contentType,
        ContentLength: sizeBytes,
      });
      // Content-Type and Content-Length are signed: S3 refuses a PUT with any other.
      return getSignedUrl(client, command, {
        expiresIn: expiresInSeconds,
        signableHeaders: new Set(["content-type", "content-length"]),
      });
    },
    async sizeOf(key) {
      try {
        const head = await send(() => client.send(new HeadObjectCommand({ Bucket: bucket, Key: key })));
        return head.ContentLength;
      } catch (error) {
        if (missing(error)) return undefined;
        throw error;
      }
    },
    async get(key) {
      try {
        const object = await send(() => client.send(new GetObjectCommand({ Bucket: bucket, Key: key })));
        const bytes = Buffer.from(await send(() => object.Body!.transformToByteArray()));
        return { bytes, contentType: object.ContentType ?? "" };
      } catch (error) {
        if (missing(error)) return undefined;
        throw error;
      }
    },
    async put(key, bytes, contentType) {
      await send(() =>
        client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: bytes,
            ContentType: contentType,
            // A rendition's key never holds other bytes: a new picture gets a new image id.
            CacheControl: "public, max-age=31536000, immutable",
          }),
        ),
      );
    },
    async delete(key) {
      try {
        await send(() => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })));
      } catch (error) {
        if (!missing(error)) throw error;
      }
    },
    publicUrl(key) {
      return `${config.publicBaseUrl.replace(/\/$/, "")}/${key}`;
    },
  };
}
