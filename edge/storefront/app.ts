/// <reference lib="dom" />
// The storefront in the browser: browse and search the catalog, sign in, fill the cart, check
// out, and follow the customer's orders and their shipments live; a seller also gets the
// seller view (seller.ts). It speaks the Connect protocol (JSON over fetch) to the edge that
// served it through @bazaar/sdk (edge/sdk), whose session keeps the tokens and refreshes the
// access token when a call is refused; build.ts bundles it.
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { User } from "../../gen/bazaar/auth/v1/auth_pb.ts";
import type { Cart, CartItem } from "../../gen/bazaar/cart/v1/cart_pb.ts";
import { Role } from "../../gen/bazaar/common/v1/common_pb.ts";
import {
  OrderStatus,
  OrderStatusSchema,
  PaymentMethod,
  PaymentStatus,
  type Order,
} from "../../gen/bazaar/order/v1/order_pb.ts";
import type { Product } from "../../gen/bazaar/product/v1/product_pb.ts";
import { Code, ConnectError, createBazaar, type TokenStorage } from "../sdk/src/index.ts";
import { setUpAccountPages, showVerifyBanner } from "./account.ts";
import { element, formatMoney, fromTemplate, historyEntry, part, rowById, setText, shortId, sleep } from "./dom.ts";
import { action, messageOf, showError } from "./errors.ts";
import { followLive } from "./live.ts";
import { closeBell, openBell } from "./notifications.ts";
import { pictureOf, shownImages } from "./picture.ts";
import { closeSellerView, openSellerView } from "./seller.ts";
import { renderShopOrders } from "./shipments.ts";

interface Session {
  user: Pick<User, "id" | "email" | "role">;
  /** Aborted when the session ends: stops the watches. */
  ended: AbortController;
}

let session: Session | undefined;

/**
 * Where a session is kept across a page load in this tab, such as the trip to the bank's 3-D
 * Secure page and back: the user and the refresh token, never the access token.
 */
const storedSessionKey = "bazaar.session";
const storedRefreshKey = "bazaar.session.refresh";

/** The SDK's tokens: the access token in this page's memory, the refresh token in the tab's sessionStorage. */
function tabTokenStorage(): TokenStorage {
  let accessToken = "";
  return {
    load() {
      const refreshToken = sessionStorage.getItem(storedRefreshKey);
      return refreshToken ? { accessToken, refreshToken } : undefined;
    },
    save(tokens) {
      accessToken = tokens.accessToken;
      sessionStorage.setItem(storedRefreshKey, tokens.refreshToken);
    },
    clear() {
      accessToken = "";
      sessionStorage.removeItem(storedRefreshKey);
    },
  };
}

// The signed-in calls go through the SDK's session: the access token on each, refreshed once
// when the edge refuses it as expired (one refresh for a burst of refused calls).
const bazaar = createBazaar({
  baseUrl: location.origin,
  storage: tabTokenStorage(),
  onSessionEnded: (error) => {
    if (!session) return;
    endSession();
    showError(new Error(`Your session has ended (${messageOf(error)}); please sign in again.`));
  },
});
// Catalog reads of a visitor carry no token, so the edge answers them as cacheable, which GET
// lets the browser (and a CDN) reuse.
const visitor = createBazaar({ baseUrl: location.origin, useHttpGet: true });
const auth = bazaar.auth;
const catalog = visitor.products;
const signedInCatalog = bazaar.products;
const shops = visitor.shops;
const carts = bazaar.carts;
const orders = bazaar.orders;

const page = {
  loginForm: element<HTMLFormElement>("login-form"),
  loginEmail: element<HTMLInputElement>("login-email"),
  loginPassword: element<HTMLInputElement>("login-password"),
  sessionUser: element("session-user"),
  logout: element<HTMLButtonElement>("logout"),
  searchForm: element<HTMLFormElement>("search-form"),
  searchQuery: element<HTMLInputElement>("search-query"),
  category: element<HTMLSelectElement>("category"),
  catalogStatus: element("catalog-status"),
  products: element<HTMLUListElement>("products"),
  moreProducts: element<HTMLButtonElement>("more-products"),
  cartLines: element<HTMLUListElement>("cart-lines"),
  cartEmpty: element("cart-empty"),
  cartTotal: element("cart-total"),
  checkoutForm: element<HTMLFormElement>("checkout-form"),
  placeOrder: element<HTMLButtonElement>("place-order"),
  orderPlaced: element("order-placed"),
  liveState: element("live-state"),
  orders: element<HTMLOListElement>("orders"),
  productName: element("product-title"),
  productPrice: element("product-page-price"),
  productStock: element("product-page-stock"),
  productDescription: element("product-page-description"),
  productAdd: element<HTMLButtonElement>("product-page-add"),
  galleryMain: element("gallery-main"),
  galleryThumbs: element<HTMLUListElement>("gallery-thumbs"),
};

// Failures outside an action are shown too, not left in the console.
addEventListener("unhandledrejection", (event) => showError(event.reason));
addEventListener("error", (event) => showError(event.error ?? event.message));

// ---- Catalog

/** What the product list shows, and where its next page starts. */
const listing = { query: "", categoryId: "", nextPageToken: "", shown: 0 };
/** Only the latest catalog request may fill the list, whatever order the answers come in. */
let listingRequest = 0;

async function loadProducts(nextPage: boolean): Promise<void> {
  const ticket = ++listingRequest;
  const request = { categoryId: listing.categoryId, pageSize: 24, pageToken: nextPage ? listing.nextPageToken : "" };
  const found = listing.query
    ? await catalog.searchProducts({ ...request, query: listing.query })
    : await catalog.listProducts(request);
  if (ticket !== listingRequest) return;
  if (!nextPage) {
    page.products.replaceChildren();
    listing.shown = 0;
  }
  page.products.append(...found.products.map(productCard));
  listing.shown += found.products.length;
  listing.nextPageToken = found.nextPageToken;
  page.moreProducts.hidden = !found.nextPageToken;
  const matching = listing.query ? ` matching “${listing.query}”` : "";
  page.catalogStatus.textContent =
    listing.shown === 0
      ? `No products${matching}.`
      : `${listing.shown}${found.nextPageToken ? "+" : ""} products${matching}`;
}

function productCard(product: Product): HTMLLIElement {
  const card = fromTemplate<HTMLLIElement>("product-template");
  card.dataset.productId = product.id;
  const thumb = part<HTMLAnchorElement>(card, ".thumb");
  const name = part<HTMLAnchorElement>(card, ".name");
  thumb.href = name.href = `#product-${product.id}`;
  const main = shownImages(product.images)[0];
  // Two or three cards a row on a phone, a fixed ~15rem column on a wide screen.
  const picture =
    main &&
    pictureOf(main, {
      sizes: "(max-width: 40rem) 50vw, 240px",
      preferred: "card",
      lazy: true,
      fallbackAlt: product.name,
    });
  // Without a picture, the initial stands in for it.
  if (picture) thumb.append(picture);
  else thumb.textContent = product.name.charAt(0);
  name.textContent = product.name;
  part(card, ".price").textContent = formatMoney(product.price);
  part(card, ".stock").textContent = product.stockAvailable > 0 ? `${product.stockAvailable} in stock` : "sold out";
  const add = part<HTMLButtonElement>(card, ".add");
  add.disabled = product.stockAvailable <= 0;
  add.addEventListener(
    "click",
    action(async () => renderCart((await carts.addCartItem({ productId: product.id, quantity: 1 })).cart)),
  );
  return card;
}

async function loadCategories(): Promise<void> {
  const { categories } = await catalog.listCategories({});
  const childrenOf = (parentId: string) =>
    categories.filter((c) => c.parentId === parentId).sort((a, b) => a.sortOrder - b.sortOrder);
  const addLevel = (parentId: string, depth: number) => {
    for (const category of childrenOf(parentId)) {
      page.category.add(new Option(`${"\u00a0\u00a0\u00a0".repeat(depth)}${category.name}`, category.id));
      addLevel(category.id, depth + 1);
    }
  };
  addLevel("", 0);
}

// ---- Cart and checkout

/** When the cart shown last changed: answers cross on the wire, and an older cart must not win. */
let cartShownAt = -1;

function renderCart(cart: Cart | undefined): void {
  const changedAt = cart?.updateTime ? timestampDate(cart.updateTime).getTime() : 0;
  if (changedAt < cartShownAt) return;
  cartShownAt = changedAt;
  const items = cart?.items ?? [];
  page.cartLines.replaceChildren(...items.map(cartLine));
  page.cartEmpty.hidden = items.length > 0;
  page.cartTotal.textContent = formatMoney(cart?.subtotal);
  page.placeOrder.disabled = !items.some((item) => item.available);
}

function cartLine(item: CartItem): HTMLLIElement {
  const line = fromTemplate<HTMLLIElement>("cart-line-template");
  line.dataset.productId = item.productId;
  const picture =
    item.image && pictureOf(item.image, { sizes: "40px", preferred: "thumbnail", lazy: true, fallbackAlt: item.name });
  if (picture) part(line, ".line-thumb").append(picture);
  part(line, ".name").textContent = item.available ? item.name : `${item.name} (unavailable)`;
  part(line, ".quantity").textContent = `× ${item.quantity}`;
  part(line, ".amount").textContent = formatMoney(item.lineTotal);
  part(line, ".remove").addEventListener(
    "click",
    action(async () => renderCart((await carts.removeCartItem({ productId: item.productId })).cart)),
  );
  return line;
}

/**
 * One key per checkout attempt. It is kept only when a PlaceOrder failed without an answer
 * (the order may exist): the retry then returns that order instead of buying twice.
 */
let checkoutKey = crypto.randomUUID();
const outcomeUnknown = new Set([Code.Unavailable, Code.DeadlineExceeded, Code.Unknown, Code.Internal, Code.Canceled]);

async function checkOut(): Promise<void> {
  const field = (name: string) =>
    (page.checkoutForm.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement).value.trim();
  const card = field("payment");
  let placed: Order;
  try {
    const { order } = await orders.placeOrder({
      idempotencyKey: checkoutKey,
      shippingAddress: {
        recipientName: field("recipientName"),
        line1: field("line1"),
        postalCode: field("postalCode"),
        city: field("city"),
        countryCode: field("countryCode").toUpperCase(),
      },
      payment:
        card === "cash" ? { method: PaymentMethod.CASH_ON_DELIVERY } : { method: PaymentMethod.CARD, cardToken: card },
      // The bank's page (3-D Secure) sends the buyer back here.
      returnUrl: `${location.origin}${location.pathname}`,
    });
    placed = order!;
  } catch (error) {
    if (!outcomeUnknown.has(ConnectError.from(error).code)) checkoutKey = crypto.randomUUID();
    throw error;
  }
  checkoutKey = crypto.randomUUID();
  // The order's status is not shown from this answer: the live list below shows each change
  // as WatchOrders pushes it.
  if (placed.status === OrderStatus.PAYMENT_FAILED) {
    throw new Error(
      `Payment failed: ${placed.payment?.failureReason || "the card was not accepted"}. Your cart is unchanged.`,
    );
  }
  page.orderPlaced.dataset.orderId = placed.id;
  page.orderPlaced.hidden = false;
  const redirectUrl = placed.payment?.nextAction?.redirectUrl;
  if (placed.payment?.status === PaymentStatus.REQUIRES_ACTION && redirectUrl) {
    // The session survives the trip (sessionStorage); the order row goes on live on return.
    page.orderPlaced.textContent = `Order ${shortId(placed.id)}: confirm the payment with your bank…`;
    location.assign(redirectUrl);
    return;
  }
  page.orderPlaced.textContent = `Order ${shortId(placed.id)} placed, total ${formatMoney(placed.total)}.`;
  await refreshCartAfter(placed);
}

/** The cart drops what was bought after the order service announces the order: read it until it has. */
async function refreshCartAfter(order: Order): Promise<void> {
  const bought = new Set(order.items.map((item) => item.productId));
  for (let attempt = 0; attempt < 10; attempt++) {
    const { cart } = await carts.getCart({});
    renderCart(cart);
    if (!cart?.items.some((item) => bought.has(item.productId))) return;
    await sleep(300);
  }
}

// ---- Orders, live

/**
 * Follows the customer's orders while the session lasts, from a ListOrders token, resumed after
 * the last update when the stream breaks.
 */
function followOrders(current: Session, resumeToken: string): Promise<void> {
  return followLive(
    {
      name: "Live order updates",
      watch: (resumeToken, signal) => orders.watchOrders({ resumeToken }, { signal }),
      show: (update) => renderOrder(update.order!),
      state: (text) => (page.liveState.textContent = text),
    },
    current.ended.signal,
    { resumeToken },
  );
}

/**
 * Shows an order as of its latest change; an older snapshot arriving late changes nothing.
 * A shop's move (accepted, shipped) need not change the order's own status, so a snapshot is
 * newer when the order's and its shop orders' histories, which only grow, hold more entries.
 */
function renderOrder(order: Order): void {
  const row = rowById(page.orders, "orderId", order.id, () => {
    const created = fromTemplate<HTMLLIElement>("order-template");
    // The address a notification links to (#order-<id>).
    created.id = `order-${order.id}`;
    part(created, ".order-id").textContent = shortId(order.id);
    part(created, ".order-id").title = order.id;
    return created;
  });
  const version = order.shopOrders.reduce((sum, shopOrder) => sum + shopOrder.statusHistory.length, 0);
  const history = part(row, ".history");
  const shown = history.children.length;
  if (order.statusHistory.length < shown) return;
  if (order.statusHistory.length === shown && version <= Number(row.dataset.version ?? -1)) return;
  row.dataset.version = String(version);
  // Every snapshot carries the whole history up to its change: add the entries not shown yet.
  history.append(
    ...order.statusHistory
      .slice(shown)
      .map((change) => historyEntry(statusName(change.status), change.time, change.note)),
  );
  row.dataset.status = statusName(order.status);
  setText(part(row, ".status"), statusName(order.status));
  setText(part(row, ".order-total"), formatMoney(order.total));
  renderShopOrders(part(row, ".shop-orders"), order.shopOrders, shops);
}

const statusName = (status: OrderStatus) => OrderStatusSchema.value[status]?.localName ?? `status ${status}`;

// ---- Session

async function signIn(email: string, password: string): Promise<void> {
  const { user } = await bazaar.session.signIn({ email, password });
  page.loginPassword.value = "";
  await startSession(user!);
}

function storeSession(user: Pick<User, "id" | "email" | "role">): void {
  sessionStorage.setItem(storedSessionKey, JSON.stringify({ id: user.id, email: user.email, role: user.role }));
}

/** Resumes the session this tab had before it left for the bank's page, if it had one. */
async function resumeSession(): Promise<void> {
  const stored = sessionStorage.getItem(storedSessionKey);
  const tokens = await bazaar.session.tokens();
  if (!stored || !tokens) {
    sessionStorage.removeItem(storedSessionKey);
    return;
  }
  const { id, email, role } = JSON.parse(stored) as { id: string; email: string; role: Role };
  try {
    // The access token stayed in the page that left: a new one from the kept refresh token.
    await bazaar.session.refresh(tokens.accessToken);
    await startSession({ id, email, role });
  } catch (error) {
    sessionStorage.removeItem(storedSessionKey);
    throw error;
  }
  if (new URLSearchParams(location.search).has("payment_id")) {
    page.orderPlaced.textContent =
      "Back from your bank: your order below moves on as soon as the payment is confirmed.";
    page.orderPlaced.hidden = false;
    history.replaceState(null, "", location.pathname + location.hash);
  }
}

async function startSession(user: Pick<User, "id" | "email" | "role">): Promise<void> {
  const current: Session = { user, ended: new AbortController() };
  session = current;
  storeSession(user);
  page.sessionUser.textContent = user.email;
  document.body.dataset.session = "in";
  showVerifyBanner(bazaar.auth, current.ended.signal).catch(showError);
  openBell({ notifications: bazaar.notifications, ended: current.ended.signal }).catch((error: unknown) => {
    if (!current.ended.signal.aborted) showError(error);
  });
  if (user.role === Role.SELLER) {
    document.body.dataset.role = "seller";
    showView();
    openSellerView({ userId: user.id, clients: bazaar, ended: current.ended.signal }).catch(showError);
  }
  const [{ cart }, recent] = await Promise.all([carts.getCart({}), orders.listOrders({ pageSize: 10 })]);
  if (current.ended.signal.aborted) return;
  renderCart(cart);
  recent.orders.forEach(renderOrder);
  // From the list's token: a change committed while the list was on its way comes with the watch.
  void followOrders(current, recent.resumeToken);
  await showLinkedOrder();
}

async function signOut(): Promise<void> {
  endSession();
  await bazaar.session.signOut();
}

function endSession(): void {
  sessionStorage.removeItem(storedSessionKey);
  session?.ended.abort();
  session = undefined;
  document.body.dataset.session = "out";
  delete document.body.dataset.role;
  closeSellerView();
  closeBell();
  showView();
  page.sessionUser.textContent = "";
  page.cartLines.replaceChildren();
  cartShownAt = -1;
  page.orders.replaceChildren();
  page.orderPlaced.hidden = true;
}

// ---- Views: the storefront, and for sellers the seller view at #seller.

function showView(): void {
  const seller = location.hash === "#seller" && document.body.dataset.role === "seller";
  const productId = productPageId();
  document.body.dataset.view = seller ? "seller" : productId ? "product" : "shop";
  if (productId) showProductPage(productId).catch(showError);
}

const productPageId = () => /^#product-([0-9a-f-]{36})$/.exec(location.hash)?.[1];

// ---- The product page (#product-<id>): its gallery, main image first, and what it costs.

async function showProductPage(id: string): Promise<void> {
  // A signed-in reader (a seller checking a new picture) reads past the edge's shared cache.
  const { product } = await (session ? signedInCatalog : catalog).getProduct({ id });
  if (productPageId() !== id || !product) return;
  page.productName.textContent = product.name;
  page.productPrice.textContent = formatMoney(product.price);
  page.productStock.textContent = product.stockAvailable > 0 ? `${product.stockAvailable} in stock` : "sold out";
  page.productDescription.textContent = product.description;
  page.productAdd.disabled = product.stockAvailable <= 0;
  page.productAdd.onclick = action(async () =>
    renderCart((await carts.addCartItem({ productId: product.id, quantity: 1 })).cart),
  );
  const images = shownImages(product.images);
  const showLarge = (index: number) => {
    const picture = pictureOf(images[index]!, {
      sizes: "(max-width: 60rem) 100vw, 60vw",
      preferred: "full",
      lazy: false,
      fallbackAlt: product.name,
    });
    page.galleryMain.replaceChildren(picture ?? product.name.charAt(0));
    for (const [at, button] of page.galleryThumbs.querySelectorAll("button").entries()) {
      button.setAttribute("aria-current", String(at === index));
    }
  };
  page.galleryThumbs.replaceChildren(
    ...images.map((image, index) => {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.setAttribute("aria-label", `Picture ${index + 1} of ${images.length}`);
      const small = pictureOf(image, { sizes: "72px", preferred: "thumbnail", lazy: true, fallbackAlt: product.name });
      if (small) button.append(small);
      button.addEventListener("click", () => showLarge(index));
      item.append(button);
      return item;
    }),
  );
  // One picture needs no strip to pick from.
  page.galleryThumbs.hidden = images.length < 2;
  if (images.length > 0) showLarge(0);
  else page.galleryMain.replaceChildren(product.name.charAt(0));
}

/**
 * An order's own address, #order-<id> (where a notification links): its row, read from the
 * order service when it is older than the recent orders listed, scrolled into view.
 */
async function showLinkedOrder(): Promise<void> {
  const id = /^#order-([0-9a-f-]{36})$/.exec(location.hash)?.[1];
  if (!id || !session) return;
  let row = document.getElementById(`order-${id}`);
  if (!row) {
    const { order } = await orders.getOrder({ id });
    renderOrder(order!);
    row = document.getElementById(`order-${id}`);
  }
  row?.scrollIntoView({ block: "center" });
}

// ---- Start

addEventListener("hashchange", () => {
  showView();
  showLinkedOrder().catch(showError);
});
showView();

page.loginForm.addEventListener(
  "submit",
  action(() => signIn(page.loginEmail.value.trim(), page.loginPassword.value)),
);
page.logout.addEventListener("click", action(signOut));
setUpAccountPages(auth);
page.searchForm.addEventListener(
  "submit",
  action(() => {
    listing.query = page.searchQuery.value.trim();
    listing.categoryId = page.category.value;
    return loadProducts(false);
  }),
);
page.category.addEventListener(
  "change",
  action(() => {
    listing.categoryId = page.category.value;
    return loadProducts(false);
  }),
);
page.moreProducts.addEventListener(
  "click",
  action(() => loadProducts(true)),
);
page.checkoutForm.addEventListener("submit", action(checkOut));

Promise.all([loadCategories(), loadProducts(false), resumeSession()]).catch(showError);
