// Pictures: the seller's upload path under load (CreateImageUpload through the edge, the PUT
// straight to object storage, ConfirmImageUpload, which reads the object back and checks it),
// and how fast the product service's worker turns confirmed pictures into their six renditions,
// beside raw sharp making the same renditions of the same bytes in this process.
import { createConnection } from "mysql2/promise";
import sharp from "sharp";
import { devAccounts } from "../../../services/kit/dev-accounts.ts";
import { renderImage } from "../../../services/product/media/images.ts";
import { runEach } from "../load/closed-loop.ts";
import { LatencyRecorder } from "../load/figures.ts";
import { connectUnary, type Http2Connections } from "../load/http2-client.ts";
import { callEdge } from "../wire.ts";
import { nodeDriverScenario, type Scenario } from "./scenario.ts";

export const mediaScenarioIds = {
  presignConfirm: "media.presign-confirm",
  processing: "media.processing",
  rawSharp: "media.processing.raw-sharp",
} as const;

export interface MediaBenchSetup {
  edgeUrl: string;
  mysqlUrl: string;
  productDatabase: string;
  /** Pictures confirmed in media.processing. */
  processingImages?: number;
}

/** The most pictures a gallery holds (BAZAAR_MEDIA_MAX_GALLERY_IMAGES' default and ceiling). */
const galleryLimit = 20;
/** Products made before each presign-confirm run: 1,200 uploads; more are made if a run needs them. */
const productsPerRun = 60;
/** The most pixels the product service takes (its default), for the raw baseline's renderImage. */
const maxPixels = 25_000_000;
/** The worker takes one ImageUploaded at a time: the raw baseline renders one at a time too. */
const workerConcurrency = 1;
/** Confirms of media.processing in flight at once. */
const confirmConcurrency = 8;
const processingTimeoutMs = 300_000;

interface Seller {
  accessToken: string;
  shopId: string;
  categoryId: string;
  currencyCode: string;
}

export async function mediaScenarios(setup: MediaBenchSetup): Promise<Scenario[]> {
  const seller = await signInSeller(setup.edgeUrl);
  const small = await photo(400, 300);
  const large = await photo(1200, 800);
  const pictures = { small, large, smallName: await describe(small), largeName: await describe(large) };
  return [
    presignConfirmScenario(setup, seller, pictures.small, pictures.smallName),
    rawSharpScenario(setup, pictures.large, pictures.largeName),
    processingScenario(setup, seller, pictures.large, pictures.largeName),
  ];
}

/**
 * One upload per iteration. The gallery limit (20) is kept by never giving a product more than
 * 20 uploads: each run gets fresh products of its own (made in prepare, unmeasured), 20 uploads
 * each in turn; a run faster than they allow makes more as it goes, inside the measured call
 * that needs one. Nothing is deleted, so the worker renders every picture in the background
 * meanwhile, as it would for real sellers: its CPU is part of what an upload costs.
 */
function presignConfirmScenario(setup: MediaBenchSetup, seller: Seller, picture: Buffer, name: string): Scenario {
  let gallery = new GallerySlots(() => createProduct(setup.edgeUrl, seller));
  const signedIn = { authorization: `Bearer ${seller.accessToken}` };
  return nodeDriverScenario(
    {
      id: mediaScenarioIds.presignConfirm,
      title: `Picture upload: CreateImageUpload, PUT a JPEG (${name}) to storage, ConfirmImageUpload; the demo seller`,
      protocol: "h2c",
      sweep: true,
      async prepare() {
        await waitUntilProcessed(setup);
        gallery = new GallerySlots(() => createProduct(setup.edgeUrl, seller));
        await gallery.grow(productsPerRun);
      },
    },
    new URL(setup.edgeUrl).origin,
    async (connections, worker) => uploadOnce(connections.for(worker), signedIn, await gallery.take(), picture),
  );
}

/** CreateImageUpload → PUT → ConfirmImageUpload; undefined, or why it failed. */
async function uploadOnce(
  session: ReturnType<Http2Connections["for"]>,
  signedIn: { authorization: string },
  productId: string,
  picture: Buffer,
): Promise<string | undefined> {
  let upload: { uploadId: string; uploadUrl: string; uploadHeaders: Record<string, string> } | undefined;
  const created = await connectUnary(
    session,
    "/bazaar.product.v1.MediaService/CreateImageUpload",
    JSON.stringify(uploadRequest(productId, picture)),
    signedIn,
    (answer) => void (upload = JSON.parse(answer)),
  );
  if (created || !upload) return `create: ${created ?? "no answer"}`;
  const put = await fetch(upload.uploadUrl, {
    method: "PUT",
    body: new Uint8Array(picture),
    headers: upload.uploadHeaders,
  });
  await put.arrayBuffer();
  if (!put.ok) return `put: http ${put.status}`;
  const confirmed = await connectUnary(
    session,
    "/bazaar.product.v1.MediaService/ConfirmImageUpload",
    JSON.stringify({ uploadId: upload.uploadId }),
    signedIn,
    (answer) => {
      const status = (JSON.parse(answer) as { image?: { status?: string } }).image?.status;
      return status === "IMAGE_STATUS_PROCESSING" || status === "IMAGE_STATUS_READY" ? undefined : `image ${status}`;
    },
  );
  return confirmed && `confirm: ${confirmed}`;
}

/**
 * N pictures are uploaded (unmeasured), then all confirmed, eight at a time, and the seller's
 * GetProduct polled every 100 ms until each is READY. Images/s: N ÷ the time from the first
 * confirm to the last READY seen; latency: each picture's confirm to READY.
 */
function processingScenario(setup: MediaBenchSetup, seller: Seller, picture: Buffer, name: string): Scenario {
  const count = setup.processingImages ?? 40;
  let productIds: string[] = [];
  return {
    id: mediaScenarioIds.processing,
    kind: "scenario",
    title: `Picture processing: ${count} confirmed JPEGs (${name}) until READY, six renditions each; images/s`,
    generator: "node driver",
    protocol: "h2c",
    sweep: false,
    concurrency: workerConcurrency,
    rawBaseline: mediaScenarioIds.rawSharp,
    phases: "self",
    async prepare() {
      await waitUntilProcessed(setup);
      productIds = [];
      for (let n = 0; n < Math.ceil(count / galleryLimit); n++)
        productIds.push(await createProduct(setup.edgeUrl, seller));
    },
    async measure(run) {
      const uploads = await runEachCollect(
        Array.from({ length: count }, (_, n) => productIds[Math.floor(n / galleryLimit)]!),
        confirmConcurrency,
        async (productId) => {
          const upload = await callEdge(
            setup.edgeUrl,
            "bazaar.product.v1.MediaService/CreateImageUpload",
            uploadRequest(productId, picture),
            seller.accessToken,
          );
          const put = await fetch(upload.uploadUrl, {
            method: "PUT",
            body: new Uint8Array(picture),
            headers: upload.uploadHeaders,
          });
          await put.arrayBuffer();
          if (!put.ok) throw new Error(`PUT to storage answered ${put.status}`);
          return upload.uploadId as string;
        },
      );
      run.sampling.resume();
      const started = performance.now();
      const confirmedAt = new Map<string, number>();
      try {
        await runEach(uploads, {
          concurrency: confirmConcurrency,
          async call(uploadId) {
            const at = performance.now();
            const { image } = await callEdge(
              setup.edgeUrl,
              "bazaar.product.v1.MediaService/ConfirmImageUpload",
              { uploadId },
              seller.accessToken,
            );
            confirmedAt.set(image.id, at);
            return undefined;
          },
        });
        const recorder = new LatencyRecorder();
        const waiting = new Set(confirmedAt.keys());
        let last = started;
        while (waiting.size > 0 && performance.now() - started < processingTimeoutMs) {
          for (const productId of productIds) {
            const { product } = await callEdge(
              setup.edgeUrl,
              "bazaar.product.v1.ProductService/GetProduct",
              { id: productId },
              seller.accessToken,
            );
            for (const image of (product.images ?? []) as Array<{ id: string; status: string }>) {
              if (!waiting.has(image.id) || image.status === "IMAGE_STATUS_PROCESSING") continue;
              waiting.delete(image.id);
              last = performance.now();
              recorder.record(
                last - confirmedAt.get(image.id)!,
                image.status === "IMAGE_STATUS_READY" ? undefined : image.status,
              );
            }
          }
          if (waiting.size > 0) await pause(100);
        }
        for (const _ of waiting) recorder.record(performance.now() - started, "not READY in time");
        for (let n = confirmedAt.size; n < count; n++) recorder.record(0, "confirm failed");
        return recorder.figures((last - started) / 1000);
      } finally {
        run.sampling.pause();
      }
    },
  };
}

/**
 * The same six renditions and placeholder (the worker's own renderImage) of the same bytes, in
 * this process, one at a time as the worker makes them, after one unmeasured render.
 */
function rawSharpScenario(setup: MediaBenchSetup, picture: Buffer, name: string): Scenario {
  const count = setup.processingImages ?? 40;
  return {
    id: mediaScenarioIds.rawSharp,
    kind: "baseline",
    title: `raw sharp: renderImage of ${count} JPEGs (${name}), thumbnail, card, full × WebP, JPEG; images/s`,
    generator: "sharp",
    protocol: "in-process",
    sweep: false,
    concurrency: workerConcurrency,
    phases: "self",
    // The worker's backlog would share the cores with this run.
    prepare: () => waitUntilProcessed(setup),
    async measure(run) {
      await renderImage(picture, "image/jpeg", { maxPixels });
      const recorder = new LatencyRecorder();
      run.sampling.resume();
      try {
        const seconds = await runEach(
          Array.from({ length: count }, (_, n) => n),
          {
            concurrency: run.concurrency,
            recorder,
            async call() {
              const { files } = await renderImage(picture, "image/jpeg", { maxPixels });
              return files.length === 6 ? undefined : `${files.length} renditions`;
            },
          },
        );
        return recorder.figures(seconds);
      } finally {
        run.sampling.pause();
      }
    },
  };
}

/** Product ids handed out at most `galleryLimit` times each, so no gallery is ever full. */
class GallerySlots {
  readonly #create: () => Promise<string>;
  readonly #products: string[] = [];
  #taken = 0;

  constructor(create: () => Promise<string>) {
    this.#create = create;
  }

  async grow(count: number): Promise<void> {
    for (let n = 0; n < count; n++) this.#products.push(await this.#create());
  }

  async take(): Promise<string> {
    const index = Math.floor(this.#taken++ / galleryLimit);
    // Workers that run out at once may each make one: a spare product is harmless.
    while (this.#products.length <= index) this.#products.push(await this.#create());
    return this.#products[index]!;
  }
}

function uploadRequest(productId: string, picture: Buffer) {
  return {
    slot: "IMAGE_SLOT_PRODUCT_GALLERY",
    ownerId: productId,
    contentType: "image/jpeg",
    sizeBytes: String(picture.length),
    altText: "Bench picture",
  };
}

async function signInSeller(edgeUrl: string): Promise<Seller> {
  const { tokens } = await callEdge(edgeUrl, "bazaar.auth.v1.AuthService/Login", {
    email: devAccounts.seller.email,
    password: devAccounts.seller.password,
  });
  const { products } = await callEdge(edgeUrl, "bazaar.product.v1.ProductService/ListProducts", { pageSize: 100 });
  const own = products.find((product: { sellerId: string }) => product.sellerId === devAccounts.seller.id);
  if (!own) throw new Error("no product of the demo seller: the mesh must run with BAZAAR_DEMO_SEED=1");
  return {
    accessToken: tokens.accessToken,
    shopId: own.shopId,
    categoryId: own.categoryId,
    currencyCode: own.price.currencyCode,
  };
}

let productsMade = 0;
async function createProduct(edgeUrl: string, seller: Seller): Promise<string> {
  const n = productsMade++;
  const { product } = await callEdge(
    edgeUrl,
    "bazaar.product.v1.ProductService/CreateProduct",
    {
      product: {
        shopId: seller.shopId,
        categoryId: seller.categoryId,
        name: `Bench gallery ${n}`,
        description: "Pictures uploaded by the bench's media scenarios.",
        price: { currencyCode: seller.currencyCode, amountMinor: "1000" },
        stockOnHand: 1,
      },
    },
    seller.accessToken,
  );
  return product.id;
}

/** Until the worker has no picture left to process: the last run's backlog would share the cores. */
async function waitUntilProcessed(setup: MediaBenchSetup): Promise<void> {
  const connection = await createConnection({ uri: setup.mysqlUrl, database: setup.productDatabase });
  try {
    for (const giveUpAt = performance.now() + processingTimeoutMs; performance.now() < giveUpAt; ) {
      const [rows] = await connection.query("SELECT COUNT(*) AS n FROM images WHERE status = 'PROCESSING'");
      if (Number((rows as Array<{ n: number }>)[0]!.n) === 0) return;
      await pause(200);
    }
    throw new Error("pictures from an earlier run still PROCESSING after 5 minutes");
  } finally {
    await connection.end();
  }
}

/**
 * A JPEG that compresses like a photo rather than a flat colour: a gradient over both axes with
 * fine noise (400×300 at quality 70: ~20 KB; 1200×800: ~150 KB).
 */
async function photo(width: number, height: number): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3);
  let seed = 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      const noise = (seed >> 16) % 40;
      const i = (y * width + x) * 3;
      raw[i] = (x * 200) / width + noise;
      raw[i + 1] = (y * 200) / height + noise;
      raw[i + 2] = 100 + noise;
    }
  }
  return sharp(raw, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 70 })
    .toBuffer();
}

/** "1200×800, 158 KB", for titles. */
async function describe(picture: Buffer): Promise<string> {
  const { width, height } = await sharp(picture).metadata();
  return `${width}×${height}, ${Math.round(picture.length / 1024)} KB`;
}

/** Calls once per item, `concurrency` at a time; every result, or the first error. */
async function runEachCollect<T, R>(items: T[], concurrency: number, call: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) results.push(await call(items[next++]!));
    }),
  );
  return results;
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
