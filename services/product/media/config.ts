// Where pictures are stored and the limits they are checked against. The S3 defaults are the
// local-dev s3rver that `npm start` runs; production names its store, bucket and CDN, with the
// keys from a secret (deploy/k8s).
import type { EnvReader } from "../../kit/config.ts";

export interface MediaConfig {
  s3Endpoint: string;
  s3Region: string;
  /** Path-style URLs (endpoint/bucket/key): s3rver and most self-hosted stores need them. */
  s3ForcePathStyle: boolean;
  s3AccessKeyId: string;
  s3SecretAccessKey: string;
  bucket: string;
  /** Where buyers GET renditions: a CDN in front of the bucket, or the bucket itself. */
  publicBaseUrl: string;
  /** The largest upload taken. */
  maxUploadBytes: number;
  /** The most pixels (width × height) a picture may have: a larger one is a decompression bomb. */
  maxPixels: number;
  /** How long a presigned upload URL works, and how long an unconfirmed upload is kept. */
  uploadTtlSeconds: number;
  /** Pictures in one product's gallery at most. */
  maxGalleryImages: number;
  /** How often the cleanup job deletes expired uploads and deleted images' files. */
  cleanupEveryMs: number;
}

export function readMediaConfig(read: EnvReader): MediaConfig {
  const endpoint = read.url("BAZAAR_MEDIA_S3_ENDPOINT", "http://127.0.0.1:4569", ["http", "https"]);
  const bucket = read.matching(
    "BAZAAR_MEDIA_BUCKET",
    "bazaar-media",
    /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
    "an S3 bucket name (3 to 63 lowercase letters, digits, dots, hyphens)",
  );
  return {
    s3Endpoint: endpoint,
    s3Region: read.string("BAZAAR_MEDIA_S3_REGION", "us-east-1"),
    s3ForcePathStyle: read.flag("BAZAAR_MEDIA_S3_FORCE_PATH_STYLE", true),
    // LOCAL DEV DEFAULTS ONLY: s3rver's fixed keys. Production sets both from a secret.
    s3AccessKeyId: read.string("BAZAAR_MEDIA_S3_ACCESS_KEY_ID", "S3RVER"),
    s3SecretAccessKey: read.string("BAZAAR_MEDIA_S3_SECRET_ACCESS_KEY", "S3RVER"),
    bucket,
    publicBaseUrl: read.url("BAZAAR_MEDIA_PUBLIC_URL", `${endpoint.replace(/\/$/, "")}/${bucket}`, ["http", "https"]),
    maxUploadBytes: read.int("BAZAAR_MEDIA_MAX_UPLOAD_BYTES", 10 * 1024 * 1024, { min: 1024, max: 100 * 1024 * 1024 }),
    maxPixels: read.int("BAZAAR_MEDIA_MAX_PIXELS", 25_000_000, { min: 10_000, max: 268_000_000 }),
    uploadTtlSeconds: read.int("BAZAAR_MEDIA_UPLOAD_TTL_SECONDS", 600, { min: 1, max: 86_400 }),
    maxGalleryImages: read.int("BAZAAR_MEDIA_MAX_GALLERY_IMAGES", 20, { min: 1, max: 20 }),
    cleanupEveryMs: read.int("BAZAAR_MEDIA_CLEANUP_MS", 60_000, { min: 100, max: 3_600_000 }),
  };
}
