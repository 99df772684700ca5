/// <reference lib="dom" />
// The buyer's view of an order's shop orders: one line per shop with its status and, once
// shipped, the carrier and tracking number (a link when the carrier has a tracking page). It is
// rendered from each WatchOrders snapshot, so a seller's accept or ship shows live.
import type { Client } from "@connectrpc/connect";
import { type ShopOrder, ShopOrderStatusSchema } from "../../gen/bazaar/order/v1/order_pb.ts";
import type { ShopService } from "../../gen/bazaar/product/v1/product_pb.ts";
import { fromTemplate, part, rowById, setText, shortId } from "./dom.ts";

/** Shop names by id, asked once per page: they are public and rarely change. */
const shopNames = new Map<string, Promise<string>>();

export function renderShopOrders(list: HTMLElement, shopOrders: ShopOrder[], shops: Client<typeof ShopService>): void {
  for (const shopOrder of shopOrders) {
    const line = rowById(list, "shopOrderId", shopOrder.id, () => shopOrderLine(shopOrder.shopId, shops));
    const status = ShopOrderStatusSchema.value[shopOrder.status]?.localName ?? `status ${shopOrder.status}`;
    line.dataset.status = status;
    setText(part(line, ".status"), status);
    renderShipment(part(line, ".shipment"), shopOrder);
  }
}

function shopOrderLine(shopId: string, shops: Client<typeof ShopService>): HTMLLIElement {
  const line = fromTemplate<HTMLLIElement>("order-shop-order-template");
  const name = part(line, ".shop-name");
  name.textContent = `Shop ${shortId(shopId)}`;
  let known = shopNames.get(shopId);
  if (!known) {
    known = shops.getShop({ id: shopId }).then(({ shop }) => shop!.name);
    shopNames.set(shopId, known);
    // A shop that cannot be read keeps its short id; the next order asks again.
    known.catch(() => shopNames.delete(shopId));
  }
  known.then((shopName) => (name.textContent = shopName)).catch(() => {});
  return line;
}

function renderShipment(target: HTMLElement, shopOrder: ShopOrder): void {
  const { carrier, trackingNumber, trackingUrl } = shopOrder;
  if (!carrier || target.dataset.trackingNumber === trackingNumber) return;
  target.dataset.trackingNumber = trackingNumber;
  // The service only takes https tracking pages; anything else is shown as text, never linked.
  let tracking: Node = document.createTextNode(trackingNumber);
  if (trackingUrl.startsWith("https://")) {
    const link = document.createElement("a");
    link.href = trackingUrl;
    link.rel = "noopener noreferrer";
    link.target = "_blank";
    link.textContent = trackingNumber;
    tracking = link;
  }
  target.replaceChildren(`${carrier}, tracking `, tracking);
}
