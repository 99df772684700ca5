// The browser storefront served at /: index.html and style.css as they are, and the bundle
// build.ts wrote (dist/app.js). A missing bundle fails the edge's start with what to do.
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { StaticFiles } from "../static-files.ts";

const source = (name: string) => fileURLToPath(new URL(name, import.meta.url));
const bundleFile = source("dist/app.js");

/** `mediaOrigins`: where pictures are read from and uploaded to (EdgeConfig.mediaOrigins). */
export async function storefrontFiles(mediaOrigins: string[]): Promise<StaticFiles> {
  const [html, css, bundle] = await Promise.all([
    readFile(source("index.html"), "utf8").then((text) => withMediaOrigins(text, mediaOrigins)),
    readFile(source("style.css")),
    readFile(bundleFile).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "ENOENT") throw error;
      throw new Error(
        `storefront: ${bundleFile} is missing; build it with \`node edge/storefront/build.ts\` or turn the storefront off with BAZAAR_EDGE_STOREFRONT=false`,
      );
    }),
  ]);
  return new Map([
    ["/", { body: html, contentType: "text/html; charset=utf-8" }],
    ["/app.js", { body: bundle, contentType: "text/javascript; charset=utf-8" }],
    ["/style.css", { body: css, contentType: "text/css; charset=utf-8" }],
  ]);
}

function withMediaOrigins(html: string, origins: string[]): Buffer {
  if (!html.includes("{{media-origins}}")) throw new Error("storefront: index.html has no {{media-origins}} to fill");
  return Buffer.from(html.replaceAll("{{media-origins}}", origins.join(" ")));
}
