// What the order events tell each shop's sales: OrderPlaced brings a shop order with its lines,
// ShopOrderStatusChanged moves one shop order (a seller's fulfilment or cancellation), and
// OrderStatusChanged moves all of an order's shop orders when the whole order moved.
import type { Transaction } from "kysely";
import type { Event } from "../../../gen/bazaar/events/v1/events_pb.ts";
import { timeOfUuidv7 } from "../../kit/ids.ts";
import type { AdminDatabase } from "../db/database.ts";
import { recordOrderMove, recordShopSale } from "../db/shop-sales.repository.ts";
import { placedShopSales, shopOrderStatusName, statusRank, statusShopOrdersFollow } from "./shop-sales.ts";

export async function applyToShopSales(event: Event, trx: Transaction<AdminDatabase>): Promise<void> {
  const { payload } = event;
  switch (payload.case) {
    case "orderPlaced": {
      // Days are counted from the order's creation, as in the platform's report.
      for (const sale of placedShopSales(payload.value, timeOfUuidv7(payload.value.orderId)))
        await recordShopSale(trx, { ...sale, statusRank: statusRank[sale.status] });
      break;
    }
    case "shopOrderStatusChanged": {
      const change = payload.value;
      const status = shopOrderStatusName(change.newStatus);
      if (!status) break;
      // Everything but the lines is in the event, so a move heard before its OrderPlaced is kept.
      await recordShopSale(trx, {
        shopOrderId: change.shopOrderId,
        orderId: change.orderId,
        shopId: change.shopId,
        sellerId: change.sellerId,
        placedTime: timeOfUuidv7(change.orderId),
        subtotalMinor: change.subtotal?.amountMinor ?? 0n,
        units: 0,
        lines: [],
        statusRank: statusRank[status],
      });
      break;
    }
    case "orderStatusChanged": {
      const followed = statusShopOrdersFollow(payload.value);
      if (followed) await recordOrderMove(trx, payload.value.orderId, statusRank[followed]);
      break;
    }
  }
}
