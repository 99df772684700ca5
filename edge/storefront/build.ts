// The browser storefront served at /: index.html and style.css as they are, and app.ts bundled
// by esbuild in memory when the edge starts (a few hundred milliseconds). Nothing is written to
// disk, so there is no build step to forget and no stale bundle to ship. A bundle that does not
// build fails the edge's start: it is the same for every start, so the storefront's tests catch
// it long before a deployment would.
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { build, stop } from "esbuild";
import type { StaticFiles } from "../static-files.ts";

const source = (name: string) => fileURLToPath(new URL(name, import.meta.url));

/** `mediaOrigins`: where pictures are read from and uploaded to (EdgeConfig.mediaOrigins). */
export async function storefrontFiles(mediaOrigins: string[]): Promise<StaticFiles> {
  const [html, css, bundle] = await Promise.all([
    readFile(source("index.html"), "utf8").then((text) => withMediaOrigins(text, mediaOrigins)),
    readFile(source("style.css")),
    bundleApp(),
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

async function bundleApp(): Promise<Buffer> {
  const result = await build({
    entryPoints: [source("app.ts")],
    bundle: true,
    write: false,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    // Errors come back in the rejection's message; esbuild need not print them as well.
    logLevel: "silent",
  })
    .catch((error: Error) => {
      throw new Error(`storefront: app.ts does not build: ${error.message}`);
    })
    // esbuild's service process would otherwise idle beside the edge for its whole life
    // (~30 MB); this build is the edge's only use of esbuild.
    .finally(stop);
  // One entry point, no code splitting: one output file, app.js.
  return Buffer.from(result.outputFiles[0]!.contents);
}
