// The browser storefront served at /. TODO(helper B): built with esbuild from app.ts.
import type { StaticFiles } from "../static-files.ts";

export async function storefrontFiles(): Promise<StaticFiles> {
  return new Map();
}
