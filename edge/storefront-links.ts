// The paths notifications link to (`/orders/<id>`, `/seller/orders/<id>`) are the same for every
// client: apps map them to their own screens. A browser that follows one from a mail lands on the
// edge, which sends it on to the storefront page that shows it (the storefront is one page that
// routes by the URL's fragment).
const uuid = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
const orderPath = new RegExp(`^/orders/(${uuid})$`);
const shopOrderPath = new RegExp(`^/seller/orders/${uuid}$`);

/** Where the storefront shows what `path` names, or undefined when it is not a notification link. */
export function storefrontAddressOf(path: string): string | undefined {
  const order = orderPath.exec(path)?.[1];
  if (order) return `/#order-${order}`;
  if (shopOrderPath.test(path)) return "/#seller";
  return undefined;
}
