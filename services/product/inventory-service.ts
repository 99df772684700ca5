// InventoryService (internal): proto ↔ domain, domain errors → ConnectError.
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { InventoryService } from "../../gen/bazaar/product/v1/product_pb.ts";
import { PreconditionFailureSchema } from "../../gen/google/rpc/error_details_pb.ts";
import { reasonedError } from "../kit/error-info.ts";
import {
  commitReservation,
  InsufficientStockError,
  releaseReservation,
  ReservationClosedError,
  returnReservation,
  returnReservationItems,
  ReservationNotFoundError,
  reserveStock,
  type InventoryDeps,
} from "./domain/inventory.ts";

export function createInventoryService(deps: InventoryDeps): ServiceImpl<typeof InventoryService> {
  return {
    async reserveStock(request) {
      const items = request.items.map((item) => ({ productId: item.productId, quantity: item.quantity }));
      const { expireTime } = await mapErrors(() =>
        reserveStock(deps, request.reservationId, items, { sellNow: request.sellNow }),
      );
      return { reservationId: request.reservationId, expireTime: timestampFromDate(expireTime) };
    },
    async commitReservation(request) {
      await mapErrors(() => commitReservation(deps, request.reservationId));
      return {};
    },
    async releaseReservation(request) {
      await mapErrors(() => releaseReservation(deps, request.reservationId));
      return {};
    },
    async returnReservation(request) {
      await mapErrors(() => returnReservation(deps, request.reservationId));
      return {};
    },
    async returnReservationItems(request) {
      const items = request.items.map((item) => ({ productId: item.productId, quantity: item.quantity }));
      const returned = await returnReservationItems(deps, request.reservationId, request.returnId, items);
      return { returned };
    },
  };
}

async function mapErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof InsufficientStockError) {
      // ErrorInfo names the first short product; each one is a google.rpc.PreconditionFailure
      // violation, for clients to show.
      const [first] = error.shortages;
      const violations = error.shortages.map((s) => ({
        type: "STOCK",
        subject: s.productId,
        description: `requested ${s.requested}, available ${s.available}`,
      }));
      throw reasonedError(
        "OUT_OF_STOCK",
        error.message,
        {
          product_id: first!.productId,
          product_ids: error.shortages.map((s) => s.productId).join(","),
          requested: String(first!.requested),
          available: String(first!.available),
        },
        { details: [{ desc: PreconditionFailureSchema, value: create(PreconditionFailureSchema, { violations }) }] },
      );
    }
    if (error instanceof ReservationClosedError) {
      const reservationId = error.reservationId;
      if (error.status === "COMMITTED")
        throw reasonedError("RESERVATION_COMMITTED", error.message, { reservation_id: reservationId });
      throw reasonedError("RESERVATION_RELEASED", error.message, {
        reservation_id: reservationId,
        status: error.status,
      });
    }
    if (error instanceof ReservationNotFoundError) throw new ConnectError(error.message, Code.NotFound);
    throw error;
  }
}
