import { expect, it } from "vitest";
import { storefrontAddressOf } from "./storefront-links.ts";

const id = "019ae9b4-2c4f-7d21-9a3e-6f1c0b7d5e42";

it("when a notification link is followed, then it names the storefront page that shows it, and nothing else is redirected", () => {
  expect(storefrontAddressOf(`/orders/${id}`)).toBe(`/#order-${id}`);
  expect(storefrontAddressOf(`/seller/orders/${id}`)).toBe("/#seller");
  for (const other of [
    "/orders/",
    `/orders/${id}/x`,
    "/orders/not-an-id",
    `/v1/orders/${id}`,
    `/orders/${id.toUpperCase()}`,
  ])
    expect(storefrontAddressOf(other)).toBeUndefined();
});
