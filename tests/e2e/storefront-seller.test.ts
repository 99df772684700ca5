// The storefront's seller view in a real browser (headless Chromium) against the real mesh, with
// two pages side by side: the dev seller watches their shop's orders while a new customer buys
// one of that shop's products in the other page. The new order appears on the seller's page
// without a reload; the seller accepts it and ships it with a carrier and tracking number, and
// the buyer's page shows PROCESSING, then SHIPPED with the tracking link, as WatchOrders pushes
// them; the seller marks it delivered and both pages follow. Nothing in either console. And the
// pictures: the seller adds one to a product through the page (upload straight to the object
// store), sees it become READY, and a visitor's catalogue shows it, every image loaded.
import { randomBytes, randomUUID } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { OrderStatus, PaymentMethod, ShopOrderStatus } from "../../gen/bazaar/order/v1/order_pb.ts";
import { devAccounts } from "../../services/kit/dev-accounts.ts";
import { bearer } from "../../services/kit/testing/calls.ts";
import { patiently, record, requireChromium, storefrontMeshEnv, useBrowser } from "../support/browser.ts";
import { executable, jpegWithLocation } from "../support/pictures.ts";
import { registerCustomer, signIn } from "../support/shoppers.ts";
import { useMesh } from "../support/use-mesh.ts";

const screenshot = (name: string) =>
  fileURLToPath(new URL(`../artifacts/storefront-seller-${name}.png`, import.meta.url));

// Before the mesh: without a browser there is nothing to start it for.
requireChromium();
const e2e = useMesh({ httpVersion: "1.1", env: storefrontMeshEnv });
const { auth, products, shops, carts, orders, shopOrders, notifications } = e2e;
const chromium = useBrowser();

async function signInOnPage(page: Page, email: string, password: string): Promise<void> {
  await page.getByLabel("E-mail", { exact: true }).fill(email);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect.poll(() => page.getByTestId("session-user").textContent(), patiently).toBe(email);
}

/** A new customer's confirmed order of one unit of the product, placed through the API. */
async function boughtByNewCustomer(productId: string) {
  const buyer = await registerCustomer(auth, "seller-story");
  await carts.addCartItem({ productId, quantity: 1 }, buyer);
  const { order } = await orders.placeOrder(
    {
      idempotencyKey: randomUUID(),
      shippingAddress: { recipientName: "Erika", line1: "Friedrichstraße 43", city: "Berlin", countryCode: "DE" },
      payment: { method: PaymentMethod.CARD, cardToken: "tok_visa" },
    },
    buyer,
  );
  expect(order!.status).toBe(OrderStatus.CONFIRMED);
  return order!;
}

/** Rethrows a failed wait with what the page showed and logged: a bare timeout says too little. */
function explain(page: Page, saw: ReturnType<typeof record>) {
  return async (error: Error): Promise<never> => {
    const shown = ((await page.locator("body").textContent()) ?? "").replace(/\s+/g, " ");
    throw new Error(
      `${error.message}\nconsole errors: ${JSON.stringify(saw.consoleErrors)}\n` +
        `requests: ${JSON.stringify(saw.requests.slice(-10))}\npage text: ${shown.slice(0, 800)}`,
    );
  };
}

/** Adds "<status> <url>" to `answers` for each picture the page loads over HTTP, "failed <url>" when none came. */
function watchImages(page: Page, answers: string[]): void {
  page.on("response", (answer) => {
    if (answer.request().resourceType() === "image" && answer.url().startsWith("http"))
      answers.push(`${answer.status()} ${answer.url()}`);
  });
  page.on("requestfailed", (request) => {
    if (request.resourceType() === "image") answers.push(`failed ${request.url()}`);
  });
}

/** The unread count the page's bell shows. */
const unreadOnBell = async (page: Page) => Number(await page.getByTestId("bell").getAttribute("data-unread"));

/** Text of a part of the page, for polling. */
const text = (page: Page, testId: string) => page.getByTestId(testId).first().textContent();

describe("the storefront's seller view", () => {
  it("when a buyer orders from the seller's shop, then the seller's page shows it live, the seller accepts and ships it, and the buyer's page shows SHIPPED with the tracking number live", async () => {
    // One of the dev seller's products in stock, and its shop.
    const { products: offered } = await products.listProducts({ sellerId: devAccounts.seller.id, pageSize: 100 });
    const product = offered.find((p) => p.stockAvailable > 2 && p.name.length > 0)!;
    const { shop } = await shops.getShop({ id: product.shopId });
    const buyerEmail = `seller-story-${randomBytes(5).toString("hex")}@example.test`;
    await auth.register({ email: buyerEmail, password: "password-123", displayName: "Storefront Buyer" });

    // Two contexts: two people, each with their own page and connections.
    const sellerPage = await (await chromium.browser.newContext()).newPage();
    const buyerPage = await (await chromium.browser.newContext()).newPage();
    for (const page of [sellerPage, buyerPage]) page.setDefaultTimeout(20_000);
    const sellerSaw = record(sellerPage);
    const buyerSaw = record(buyerPage);

    // The seller signs in, opens the seller view and picks the product's shop.
    await sellerPage.goto(`${e2e.mesh.edgeUrl}/`);
    await signInOnPage(sellerPage, devAccounts.seller.email, devAccounts.seller.password);
    await sellerPage.getByRole("link", { name: "Seller", exact: true }).click();
    const shopPicker = sellerPage.getByLabel("Shop", { exact: true });
    await expect
      .poll(() => shopPicker.locator("option").allTextContents(), patiently)
      .toContain(shop!.name)
      .catch(explain(sellerPage, sellerSaw));
    await shopPicker.selectOption({ label: shop!.name });
    // The list is read (nothing sold yet in this mesh) and the watch is on before anyone buys.
    await expect.poll(() => text(sellerPage, "seller-status"), patiently).toMatch(/^No orders yet/);
    await expect.poll(() => text(sellerPage, "shop-live-state"), patiently).toBe("live");
    expect(await sellerPage.getByTestId("product-list").isVisible()).toBe(false);
    // The seller's bell has read the count the service holds.
    const sellerInbox = await signIn(auth, devAccounts.seller);
    const unreadBefore = (await notifications.getUnreadCount({}, sellerInbox)).unreadCount;
    await expect.poll(() => unreadOnBell(sellerPage), patiently).toBe(unreadBefore);

    // The buyer signs in on the other page, puts the product in the cart and checks out by card.
    await buyerPage.goto(`${e2e.mesh.edgeUrl}/`);
    await signInOnPage(buyerPage, buyerEmail, "password-123");
    expect(await buyerPage.getByRole("link", { name: "Seller", exact: true }).isVisible()).toBe(false);
    await buyerPage.getByLabel("Search products").fill(product.name);
    await buyerPage.getByRole("button", { name: "Search" }).click();
    const card = buyerPage.locator(`[data-testid="product"][data-product-id="${product.id}"]`);
    await card.getByRole("button", { name: "Add to cart" }).click();
    await expect
      .poll(() => buyerPage.getByTestId("cart-line-name").allTextContents(), patiently)
      .toEqual([product.name]);
    await buyerPage.getByRole("button", { name: "Place order" }).click();
    await expect
      .poll(() => buyerPage.getByTestId("order-placed").getAttribute("data-order-id"), patiently)
      .toMatch(/^[0-9a-f-]{36}$/);
    const orderId = (await buyerPage.getByTestId("order-placed").getAttribute("data-order-id"))!;
    const bought = buyerPage.locator(`[data-testid="order"][data-order-id="${orderId}"]`);
    await expect.poll(() => bought.getByTestId("order-status").textContent(), patiently).toBe("CONFIRMED");
    const shipment = bought.getByTestId("order-shop-order");
    await expect.poll(() => shipment.getByTestId("order-shop-order-status").textContent(), patiently).toBe("CONFIRMED");
    await expect.poll(() => shipment.textContent(), patiently).toContain(shop!.name);

    // The seller's page shows the new order, pushed by WatchShopOrders: the page was not reloaded.
    const sold = sellerPage.getByRole("list", { name: "Shop orders" }).locator(`[data-order-id="${orderId}"]`);
    await expect.poll(() => sold.getByTestId("shop-order-status").textContent(), patiently).toBe("CONFIRMED");
    expect(await sold.textContent()).toContain(`1 × ${product.name}`);
    // Where to send it: the buyer's address as typed at checkout, shown for this shop order.
    const street = await buyerPage.locator('input[name="line1"]').inputValue();
    const recipient = await buyerPage.locator('input[name="recipientName"]').inputValue();
    expect(await sold.getByTestId("shop-order-ship-to").textContent()).toMatch(
      new RegExp(`^Ship to: ${recipient}, ${street}, `),
    );
    expect(sellerSaw.loads, "the seller's page was reloaded").toBe(1);
    // The seller's bell counts the new order (low stock may come with it), also without a reload.
    await expect.poll(() => unreadOnBell(sellerPage), patiently).toBeGreaterThan(unreadBefore);

    await sold.getByRole("button", { name: "Accept" }).click();
    await expect.poll(() => sold.getByTestId("shop-order-status").textContent(), patiently).toBe("PROCESSING");
    await expect.poll(() => bought.getByTestId("order-status").textContent(), patiently).toBe("PROCESSING");
    await expect
      .poll(() => shipment.getByTestId("order-shop-order-status").textContent(), patiently)
      .toBe("PROCESSING");

    const trackingNumber = `JJD${randomBytes(6).toString("hex").toUpperCase()}`;
    const trackingUrl = `https://tracking.example.test/parcels/${trackingNumber}`;
    await sold.getByLabel("Carrier").fill("DHL");
    await sold.getByLabel("Tracking number").fill(trackingNumber);
    await sold.getByLabel("Tracking URL").fill(trackingUrl);
    await sold.getByRole("button", { name: "Ship" }).click();
    await expect.poll(() => sold.getByTestId("shop-order-status").textContent(), patiently).toBe("SHIPPED");
    expect(await sold.getByTestId("shop-order-shipment").textContent()).toBe(
      `Shipped with DHL, tracking number ${trackingNumber}`,
    );

    // The buyer's page, untouched since checkout, shows the shipment as WatchOrders pushes it.
    await expect.poll(() => bought.getByTestId("order-status").textContent(), patiently).toBe("SHIPPED");
    await expect.poll(() => shipment.getByTestId("order-shop-order-status").textContent(), patiently).toBe("SHIPPED");
    await expect
      .poll(() => shipment.getByTestId("order-shipment").textContent(), patiently)
      .toBe(`DHL, tracking ${trackingNumber}`);
    expect(await shipment.getByRole("link", { name: trackingNumber }).getAttribute("href")).toBe(trackingUrl);
    const log = await bought
      .getByTestId("order-status-log")
      .locator("li")
      .evaluateAll((items) => items.map((item) => item.getAttribute("data-status")));
    expect(log).toEqual(["PENDING", "CONFIRMED", "PROCESSING", "SHIPPED"]);
    await mkdir(dirname(screenshot("seller")), { recursive: true });
    await sellerPage.screenshot({ path: screenshot("seller"), fullPage: true });
    await buyerPage.screenshot({ path: screenshot("buyer"), fullPage: true });

    await sold.getByRole("button", { name: "Mark delivered" }).click();
    await expect.poll(() => sold.getByTestId("shop-order-status").textContent(), patiently).toBe("DELIVERED");
    await expect.poll(() => bought.getByTestId("order-status").textContent(), patiently).toBe("DELIVERED");

    // What the pages showed is what the services hold.
    const asSeller = await signIn(auth, devAccounts.seller);
    const { shopOrders: listed } = await shopOrders.listShopOrders({ shopId: shop!.id }, asSeller);
    expect(listed.map((s) => [s.orderId, s.status, s.carrier, s.trackingNumber, s.trackingUrl])).toEqual([
      [orderId, ShopOrderStatus.DELIVERED, "DHL", trackingNumber, trackingUrl],
    ]);
    const asBuyer = bearer((await auth.login({ email: buyerEmail, password: "password-123" })).tokens!.accessToken);
    expect((await orders.getOrder({ id: orderId }, asBuyer)).order!.status).toBe(OrderStatus.DELIVERED);

    for (const [who, page, saw] of [
      ["seller", sellerPage, sellerSaw],
      ["buyer", buyerPage, buyerSaw],
    ] as const) {
      expect(saw.loads, `the ${who}'s page was reloaded`).toBe(1);
      expect(await page.getByTestId("error").isHidden(), `the ${who}'s page shows an error`).toBe(true);
      expect(saw.consoleErrors, `the ${who}'s console`).toEqual([]);
    }
    await sellerPage.context().close();
    await buyerPage.context().close();
  }, 180_000);

  it("when the seller's Accept is refused because the order moved on meanwhile, then its row says why with the ErrorInfo reason", async () => {
    // An order of the seller's last shop, placed before the seller's page opens: it comes from ListShopOrders.
    const { products: offered } = await products.listProducts({ sellerId: devAccounts.seller.id, pageSize: 100 });
    const product = offered.findLast((p) => p.stockAvailable > 2)!;
    const { shop } = await shops.getShop({ id: product.shopId });
    const order = await boughtByNewCustomer(product.id);

    const sellerPage = await (await chromium.browser.newContext()).newPage();
    sellerPage.setDefaultTimeout(20_000);
    const saw = record(sellerPage);
    // Hold the page's live stream: it must not learn of the accept below before its own click.
    await sellerPage.route("**/bazaar.order.v1.ShopOrderService/WatchShopOrders", () => {});
    await sellerPage.goto(`${e2e.mesh.edgeUrl}/#seller`);
    await signInOnPage(sellerPage, devAccounts.seller.email, devAccounts.seller.password);
    const shopPicker = sellerPage.getByLabel("Shop", { exact: true });
    await expect.poll(() => shopPicker.locator("option").allTextContents(), patiently).toContain(shop!.name);
    await shopPicker.selectOption({ label: shop!.name });
    const row = sellerPage.getByRole("list", { name: "Shop orders" }).locator(`[data-order-id="${order!.id}"]`);
    await expect.poll(() => row.getByTestId("shop-order-status").textContent(), patiently).toBe("CONFIRMED");

    // Accepted elsewhere (another tab, another device) meanwhile.
    const mine = order!.shopOrders.find((s) => s.shopId === shop!.id)!;
    await shopOrders.acceptShopOrder({ id: mine.id }, await signIn(auth, devAccounts.seller));
    await row.getByRole("button", { name: "Accept" }).click();
    await expect
      .poll(() => row.getByTestId("shop-order-error").textContent(), patiently)
      .toMatch(/^ILLEGAL_STATUS_TRANSITION: .*PROCESSING.*\(FailedPrecondition\)$/);
    expect(await row.getByTestId("shop-order-error").isVisible()).toBe(true);
    // The refusal is the row's: the page's own alert stays hidden, and nothing else went wrong.
    expect(await sellerPage.getByTestId("error").isHidden()).toBe(true);
    // Chromium logs the refused call's HTTP status (400) itself; nothing else went to the console.
    expect(saw.consoleErrors).toEqual([expect.stringMatching(/status of 400/)]);
    await sellerPage.context().close();
  }, 120_000);

  it("when the seller adds a picture to a product through the page, then it becomes READY on the product page and a visitor's catalogue shows it, every image answered 200", async () => {
    const { products: offered } = await products.listProducts({ sellerId: devAccounts.seller.id, pageSize: 100 });
    const product = offered.find((p) => p.images.length === 0 && p.stockAvailable > 0)!;
    const { shop } = await shops.getShop({ id: product.shopId });
    const folder = await mkdtemp(join(tmpdir(), "storefront-picture-"));
    const file = join(folder, "photo.jpg");
    await writeFile(file, await jpegWithLocation(1200, 800));
    const impostor = join(folder, "not-a-photo.jpg");
    await writeFile(impostor, executable());

    const sellerPage = await (await chromium.browser.newContext()).newPage();
    sellerPage.setDefaultTimeout(20_000);
    const sellerSaw = record(sellerPage);
    const imageAnswers: string[] = [];
    watchImages(sellerPage, imageAnswers);
    await sellerPage.goto(`${e2e.mesh.edgeUrl}/#seller`);
    await signInOnPage(sellerPage, devAccounts.seller.email, devAccounts.seller.password);
    const shopPicker = sellerPage.getByLabel("Shop", { exact: true });
    await expect.poll(() => shopPicker.locator("option").allTextContents(), patiently).toContain(shop!.name);
    await shopPicker.selectOption({ label: shop!.name });
    const row = sellerPage.locator(`[data-testid="seller-product"][data-product-id="${product.id}"]`);
    // A file named .jpg that is no picture: uploaded, then refused on confirm, and the row says why.
    await row.getByLabel(`Add picture to ${product.name}`).setInputFiles(impostor);
    await expect
      .poll(() => row.getByTestId("picture-error").textContent(), patiently)
      .toMatch(/^IMAGE_TYPE_NOT_ALLOWED: the file is application\/x-elf, not the image\/jpeg .*\(InvalidArgument\)$/);
    expect(await row.getByTestId("seller-picture").count()).toBe(0);
    await row.getByLabel(`Add picture to ${product.name}`).setInputFiles(file);
    // Uploaded, confirmed, then read again (as the seller, PROCESSING included) until the
    // worker has made the renditions.
    await expect
      .poll(() => row.getByTestId("picture-state").textContent(), { ...patiently, timeout: 60_000 })
      .toBe("Picture ready.")
      .catch(explain(sellerPage, sellerSaw));
    expect(await row.getByTestId("seller-picture").getAttribute("data-status")).toBe("READY");
    await rm(folder, { recursive: true, force: true });

    // The product page (the seller's link to it) shows it as the gallery's main image.
    await row.getByRole("link", { name: product.name }).click();
    const main = sellerPage.getByTestId("gallery-main").locator("img");
    await expect
      .poll(() => main.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth), patiently)
      .toBeGreaterThan(0);
    expect(await sellerPage.getByTestId("product-page-name").textContent()).toBe(product.name);

    // A visitor, signed out: the catalogue's card of that product shows the picture. Anonymous
    // reads may be the edge's cached answer for a few seconds: search again until it is new.
    const visitorPage = await (await chromium.browser.newContext()).newPage();
    visitorPage.setDefaultTimeout(20_000);
    const visitorSaw = record(visitorPage);
    watchImages(visitorPage, imageAnswers);
    await visitorPage.goto(`${e2e.mesh.edgeUrl}/`);
    await visitorPage.getByLabel("Search products").fill(product.name);
    const card = visitorPage.locator(`[data-testid="product"][data-product-id="${product.id}"]`);
    const cardImage = card.locator("picture img");
    await expect
      .poll(async () => {
        if ((await cardImage.count()) === 0) await visitorPage.getByRole("button", { name: "Search" }).click();
        return cardImage.count();
      }, patiently)
      .toBe(1);
    await expect
      .poll(() => cardImage.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth), patiently)
      .toBeGreaterThan(0);
    const shown = await cardImage.evaluate((img: HTMLImageElement) => ({
      alt: img.alt,
      loading: img.loading,
      width: img.getAttribute("width"),
      height: img.getAttribute("height"),
      source: img.currentSrc,
      webp: img.parentElement!.querySelector("source")?.getAttribute("srcset") ?? "",
    }));
    // No alt text was given: the product's name; 1200 × 800 makes a card rendition of 480 × 320.
    expect(shown).toMatchObject({ alt: product.name, loading: "lazy", width: "480", height: "320" });
    expect(shown.source.startsWith(e2e.mesh.objectStore.endpoint)).toBe(true);
    expect(shown.webp).toMatch(/ 160w, .* 480w, .* 1200w$/);

    expect(imageAnswers.length).toBeGreaterThan(0);
    expect(imageAnswers.filter((answer) => !answer.startsWith("200 "))).toEqual([]);
    for (const page of [sellerPage, visitorPage]) expect(await page.getByTestId("error").isHidden()).toBe(true);
    // Chromium logs the refused confirm's HTTP status (400) itself; nothing else went to either console.
    expect(sellerSaw.consoleErrors).toEqual([expect.stringMatching(/status of 400/)]);
    expect(visitorSaw.consoleErrors).toEqual([]);
    await mkdir(dirname(screenshot("pictures")), { recursive: true });
    await sellerPage.screenshot({ path: screenshot("pictures-product-page"), fullPage: true });
    await visitorPage.screenshot({ path: screenshot("pictures"), fullPage: true });
    await sellerPage.context().close();
    await visitorPage.context().close();
  }, 180_000);

  it("when the order service restarts under the seller's page, then the page resumes its watch after the last update and shows the change it missed, without a reload", async () => {
    const { products: offered } = await products.listProducts({ sellerId: devAccounts.seller.id, pageSize: 100 });
    const product = offered.find((p) => p.stockAvailable > 2)!;
    const { shop } = await shops.getShop({ id: product.shopId });
    const sellerPage = await (await chromium.browser.newContext()).newPage();
    sellerPage.setDefaultTimeout(20_000);
    const saw = record(sellerPage);
    await sellerPage.goto(`${e2e.mesh.edgeUrl}/#seller`);
    await signInOnPage(sellerPage, devAccounts.seller.email, devAccounts.seller.password);
    const shopPicker = sellerPage.getByLabel("Shop", { exact: true });
    await expect.poll(() => shopPicker.locator("option").allTextContents(), patiently).toContain(shop!.name);
    await shopPicker.selectOption({ label: shop!.name });
    await expect.poll(() => text(sellerPage, "shop-live-state"), patiently).toBe("live");

    // A new order arrives live: the page now holds a resume token after it.
    const order = await boughtByNewCustomer(product.id);
    const row = sellerPage.getByRole("list", { name: "Shop orders" }).locator(`[data-order-id="${order.id}"]`);
    await expect.poll(() => row.getByTestId("shop-order-status").textContent(), patiently).toBe("CONFIRMED");

    // The page's next watch request waits until the order has moved on without it: only a watch
    // resumed after its last update can show that change (one from "now" would miss it).
    let accepted!: () => void;
    const acceptedMeanwhile = new Promise<void>((resolve) => (accepted = resolve));
    const watchRequests: string[] = [];
    await sellerPage.route("**/bazaar.order.v1.ShopOrderService/WatchShopOrders", async (route) => {
      // A Connect stream's request is one enveloped message: 5 bytes of flags and length, then JSON.
      watchRequests.push(route.request().postDataBuffer()?.subarray(5).toString() ?? "");
      await acceptedMeanwhile;
      await route.continue();
    });
    await e2e.mesh.kill("order", "SIGKILL");
    await expect.poll(() => text(sellerPage, "shop-live-state"), patiently).toBe("reconnecting…");
    // The seller's own orders (WatchOrders) break too; the alert shows whichever said so last.
    await expect
      .poll(() => text(sellerPage, "error"), patiently)
      .toMatch(/^Live (shop )?order updates were interrupted/);
    e2e.mesh.relaunch("order");
    await e2e.mesh.ready(60_000);
    const mine = order.shopOrders.find((s) => s.shopId === shop!.id)!;
    await shopOrders.acceptShopOrder({ id: mine.id }, await signIn(auth, devAccounts.seller));
    await expect.poll(() => watchRequests.length, patiently).toBeGreaterThan(0);
    accepted();

    await expect.poll(() => row.getByTestId("shop-order-status").textContent(), patiently).toBe("PROCESSING");
    expect(await text(sellerPage, "shop-live-state")).toBe("live");
    // The request the page resumed with carried the token of the last update it had.
    expect(JSON.parse(watchRequests[0]!)).toMatchObject({ shopId: shop!.id, resumeToken: expect.stringMatching(/.+/) });
    expect(saw.loads, "the page was reloaded").toBe(1);
    expect(saw.consoleErrors).toEqual([]);
    await sellerPage.context().close();
  }, 180_000);
});
