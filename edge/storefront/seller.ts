/// <reference lib="dom" />
// The seller's view (#seller, for signed-in sellers): pick one of their shops, see its shop
// orders newest first and live as WatchShopOrders pushes them (a new order appears without a
// reload), and move each along: Accept, Ship (carrier, tracking number, optional tracking page),
// Deliver. Errors of an action show on that order's row. Below them, the shop's products and
// their pictures (seller-pictures.ts).
import { type ShopOrder, ShopOrderStatus, ShopOrderStatusSchema } from "../../gen/bazaar/order/v1/order_pb.ts";
import type { Product, Shop } from "../../gen/bazaar/product/v1/product_pb.ts";
import type { BazaarClients } from "../sdk/src/index.ts";
import { element, formatMoney, fromTemplate, historyEntry, part, rowById, setText, shortId } from "./dom.ts";
import { action } from "./errors.ts";
import { followLive } from "./live.ts";
import { type PictureClients, renderSellerProducts } from "./seller-pictures.ts";

export interface SellerSession {
  userId: string;
  /** The SDK's clients, signed in as the seller. */
  clients: Pick<BazaarClients, "products" | "shops" | "shopOrders" | "media">;
  /** Aborted when the session ends. */
  ended: AbortSignal;
}

const page = {
  shop: element<HTMLSelectElement>("seller-shop"),
  status: element("seller-status"),
  liveState: element("shop-live-state"),
  orders: element<HTMLOListElement>("shop-orders"),
  more: element<HTMLButtonElement>("more-shop-orders"),
  products: element<HTMLUListElement>("seller-products"),
};

/** The shop shown: `left` is aborted when another shop is picked or the session ends. */
let shown: { shopId: string; left: AbortController; nextPageToken: string } | undefined;

export async function openSellerView(session: SellerSession): Promise<void> {
  const clients = {
    products: session.clients.products,
    shops: session.clients.shops,
    shopOrders: session.clients.shopOrders,
    pictures: session.clients,
  };
  page.status.textContent = "Loading your shops…";
  const { shops, products } = await sellerShops(session.userId, clients);
  if (session.ended.aborted) return;
  page.shop.replaceChildren(...shops.map((shop) => new Option(shop.name, shop.id)));
  page.shop.onchange = action(() => showShop(page.shop.value, session, clients, products));
  page.more.onclick = action(() => showMore(clients));
  if (shops.length === 0) {
    page.status.textContent = "You have no shop with products yet.";
    return;
  }
  await showShop(shops[0]!.id, session, clients, products);
}

export function closeSellerView(): void {
  shown?.left.abort();
  shown = undefined;
  page.shop.replaceChildren();
  page.shop.onchange = null;
  page.more.onclick = null;
  page.more.hidden = true;
  page.orders.replaceChildren();
  page.products.replaceChildren();
  page.status.textContent = "";
  page.liveState.textContent = "";
}

type Clients = Pick<BazaarClients, "products" | "shops" | "shopOrders"> & { pictures: PictureClients };

/**
 * The seller's shops, by name. ShopService has no "my shops" call, so they are the shops of the
 * seller's own products, hidden and deleted ones included: every shop that can have an order.
 * And those products but the deleted ones: the ones that can have pictures.
 */
async function sellerShops(sellerId: string, clients: Clients): Promise<{ shops: Shop[]; products: Product[] }> {
  const shopIds = new Set<string>();
  const products: Product[] = [];
  let pageToken = "";
  do {
    const found = await clients.products.listProducts({
      sellerId,
      includeInactive: true,
      includeDeleted: true,
      pageSize: 100,
      pageToken,
    });
    for (const product of found.products) {
      shopIds.add(product.shopId);
      if (!product.deleteTime) products.push(product);
    }
    pageToken = found.nextPageToken;
  } while (pageToken);
  const shops = await Promise.all([...shopIds].map(async (id) => (await clients.shops.getShop({ id })).shop!));
  return { shops: shops.sort((a, b) => a.name.localeCompare(b.name)), products };
}

async function showShop(shopId: string, session: SellerSession, clients: Clients, products: Product[]): Promise<void> {
  shown?.left.abort();
  const current = { shopId, left: new AbortController(), nextPageToken: "" };
  shown = current;
  const signal = AbortSignal.any([current.left.signal, session.ended]);
  page.shop.value = shopId;
  page.orders.replaceChildren();
  page.more.hidden = true;
  page.status.textContent = "";
  renderSellerProducts(
    page.products,
    products.filter((product) => product.shopId === shopId),
    clients.pictures,
    signal,
  );
  const resumeToken = await listPage(current, signal, clients);
  // From the first page's token: a change committed while it was on its way comes with the watch.
  if (resumeToken !== undefined) void followShopOrders(shopId, signal, clients, resumeToken);
}

/** The next older page of the shown shop's orders. */
async function showMore(clients: Clients): Promise<void> {
  if (shown) await listPage(shown, shown.left.signal, clients);
}

/** Shows the next page; answers its resume token (undefined once the shop is left). */
async function listPage(
  current: NonNullable<typeof shown>,
  signal: AbortSignal,
  clients: Clients,
): Promise<string | undefined> {
  const found = await clients.shopOrders.listShopOrders(
    { shopId: current.shopId, pageSize: 20, pageToken: current.nextPageToken },
    { signal },
  );
  if (signal.aborted) return undefined;
  for (const shopOrder of found.shopOrders) renderShopOrder(shopOrder, clients);
  current.nextPageToken = found.nextPageToken;
  page.more.hidden = !found.nextPageToken;
  showCount();
  return found.resumeToken;
}

/** Follows one shop's orders from a list's token until the shop is left or the session ends (live.ts). */
function followShopOrders(shopId: string, signal: AbortSignal, clients: Clients, resumeToken: string): Promise<void> {
  return followLive(
    {
      name: "Live shop order updates",
      watch: (resumeToken, watching) =>
        clients.shopOrders.watchShopOrders({ shopId, resumeToken }, { signal: watching }),
      show: (update) => {
        renderShopOrder(update.shopOrder!, clients);
        showCount();
      },
      state: (text) => (page.liveState.textContent = text),
    },
    signal,
    { resumeToken },
  );
}

function showCount(): void {
  const count = page.orders.children.length;
  page.status.textContent = count === 0 ? "No orders yet: new ones appear here as they are placed." : "";
}

/** Shows a shop order as of its latest change; an older snapshot arriving late changes nothing. */
function renderShopOrder(shopOrder: ShopOrder, clients: Clients): void {
  const row = rowById(page.orders, "shopOrderId", shopOrder.id, () => shopOrderRow(shopOrder, clients));
  const history = part(row, ".history");
  // Histories only grow: a snapshot with no more entries than shown is not newer.
  const seen = history.children.length;
  if (shopOrder.statusHistory.length <= seen) return;
  history.append(
    ...shopOrder.statusHistory
      .slice(seen)
      .map((change) => historyEntry(statusName(change.status), change.time, change.note)),
  );
  const status = statusName(shopOrder.status);
  row.dataset.status = status;
  setText(part(row, ".status"), status);
  setText(part(row, ".shop-order-total"), formatMoney(shopOrder.subtotal));
  setText(part(row, ".items"), shopOrder.items.map((item) => `${item.quantity} × ${item.name}`).join(", "));
  setText(part(row, ".ship-to"), shipTo(shopOrder.shippingAddress));
  setText(
    part(row, ".shipment"),
    shopOrder.carrier ? `Shipped with ${shopOrder.carrier}, tracking number ${shopOrder.trackingNumber}` : "",
  );
  part(row, ".accept").hidden = shopOrder.status !== ShopOrderStatus.CONFIRMED;
  part(row, ".ship-form").hidden = shopOrder.status !== ShopOrderStatus.PROCESSING;
  part(row, ".deliver").hidden = shopOrder.status !== ShopOrderStatus.SHIPPED;
}

/** The buyer's address, one line: the seller sees it for this shop order only. */
function shipTo(address: ShopOrder["shippingAddress"]): string {
  if (!address) return "";
  const place = [address.postalCode, address.city].filter(Boolean).join(" ");
  const parts = [address.recipientName, address.line1, address.line2, place, address.region, address.countryCode];
  return `Ship to: ${parts.filter(Boolean).join(", ")}${address.phone ? ` (${address.phone})` : ""}`;
}

function shopOrderRow(shopOrder: ShopOrder, clients: Clients): HTMLLIElement {
  const row = fromTemplate<HTMLLIElement>("shop-order-template");
  const { id, orderId } = shopOrder;
  row.dataset.orderId = orderId;
  row.setAttribute("aria-label", `Order ${shortId(orderId)}`);
  part(row, ".order-id").textContent = shortId(orderId);
  part(row, ".order-id").title = `order ${orderId}, shop order ${id}`;
  const rowError = part(row, ".row-error");
  const moved = (answer: { shopOrder?: ShopOrder }) => renderShopOrder(answer.shopOrder!, clients);
  part(row, ".accept").addEventListener(
    "click",
    action(async () => moved(await clients.shopOrders.acceptShopOrder({ id })), rowError),
  );
  const shipForm = part<HTMLFormElement>(row, ".ship-form");
  shipForm.addEventListener(
    "submit",
    action(async () => {
      const field = (name: string) => (shipForm.elements.namedItem(name) as HTMLInputElement).value.trim();
      moved(
        await clients.shopOrders.shipShopOrder({
          id,
          carrier: field("carrier"),
          trackingNumber: field("trackingNumber"),
          trackingUrl: field("trackingUrl"),
        }),
      );
    }, rowError),
  );
  part(row, ".deliver").addEventListener(
    "click",
    action(async () => moved(await clients.shopOrders.deliverShopOrder({ id })), rowError),
  );
  return row;
}

const statusName = (status: ShopOrderStatus) => ShopOrderStatusSchema.value[status]?.localName ?? `status ${status}`;
