// LOCAL DEV AND TESTS ONLY: s3rver, an S3-compatible server in Node, so the product service's
// real AWS SDK speaks the real S3 protocol (presigned PUTs, GET, DELETE) under `npm start`, in
// the tests and in the k8s dev overlay. What it does not prove (deploy/README.md): it ignores
// the signed Content-Type and Content-Length of a presigned PUT and has no bucket policies, so
// "uploads/ is private" holds only on a real store; the service checks every object on confirm
// whatever the store let through. Production points BAZAAR_MEDIA_S3_* at a real store.
import { readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import S3rver from "s3rver";

export const localBucket = "bazaar-media";

// Browsers PUT straight to the store from the storefront's origin, and read renditions from it:
// the same rules as compose and the k8s dev overlay give their s3rver.
const cors = readFileSync(fileURLToPath(new URL("../container/object-store-cors.xml", import.meta.url)), "utf8");

export interface RunningObjectStore {
  endpoint: string;
  bucket: string;
  /** The product service's settings for this store. */
  env: Record<string, string>;
  /** Where its files are: `<bucket>/<key>` (s3rver's own layout, with metadata beside each). */
  directory: string;
  stop(): Promise<void>;
  /** Opens the same port on the same files again (after stop). */
  restart(): Promise<void>;
}

export async function startObjectStore(options: { directory: string; port?: number }): Promise<RunningObjectStore> {
  await mkdir(options.directory, { recursive: true });
  const create = (port: number) =>
    new S3rver({
      address: "127.0.0.1",
      port,
      silent: true,
      directory: options.directory,
      configureBuckets: [{ name: localBucket, configs: [cors] }],
    });
  let server = create(options.port ?? 0);
  const { port } = (await server.run()) as AddressInfo;
  let running = true;
  const endpoint = `http://127.0.0.1:${port}`;
  await keepFolders(endpoint);
  return {
    endpoint,
    bucket: localBucket,
    directory: options.directory,
    env: { BAZAAR_MEDIA_S3_ENDPOINT: endpoint, BAZAAR_MEDIA_BUCKET: localBucket },
    async stop() {
      if (!running) return;
      running = false;
      // Cut open keep-alive connections too: a store that goes away drops them.
      server.httpServer?.closeAllConnections?.();
      await server.close();
    },
    async restart() {
      if (running) return;
      // A fresh instance: a closed s3rver's logger is closed with it.
      server = create(port);
      await server.run();
      running = true;
    },
  };
}

/**
 * s3rver keeps each key as a file in folders named by the key's slashes, and removes a folder the
 * moment a delete leaves it empty: a PUT into that folder at the same time fails to open its file
 * (an uncaught ENOENT in the process that hosts s3rver, the PUT never answered). The cleanup job
 * empties uploads/ while sellers upload, and a logo's deletion may empty images/. One object
 * that stays in each keeps them. (S3 itself has no folders.)
 */
async function keepFolders(endpoint: string): Promise<void> {
  for (const folder of ["uploads", "images"]) {
    // Anonymous: s3rver takes unsigned requests.
    const response = await fetch(`${endpoint}/${localBucket}/${folder}/.keep`, { method: "PUT", body: "" });
    if (!response.ok) throw new Error(`s3rver refused ${folder}/.keep: ${response.status}`);
  }
}
