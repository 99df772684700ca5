// Bundles the browser storefront: app.ts and what it imports, by esbuild, into dist/app.js
// beside this file. It runs before an edge starts, never inside one — the image runs it when it
// is built (deploy/Dockerfile), `npm start` and the test meshes before they launch the edge
// (deploy/local/mesh.ts) — so the edge serves a file and production carries no bundler.
//
//   node edge/storefront/build.ts
import { mkdir, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { build, stop } from "esbuild";

/** Where the bundle goes and where edge/storefront/files.ts reads it. */
export const bundlePath = fileURLToPath(new URL("dist/app.js", import.meta.url));

/** Bundles app.ts and writes it to `bundlePath`, whole or not at all. */
export async function buildStorefront(): Promise<void> {
  const result = await build({
    entryPoints: [fileURLToPath(new URL("app.ts", import.meta.url))],
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
    // esbuild's service process would otherwise idle beside the caller (npm start's supervisor,
    // a test worker) for its whole life (~30 MB).
    .finally(stop);
  // Meshes of parallel test files build at the same moment: each writes a file of its own and
  // renames it over the bundle, so an edge never reads half of one.
  await mkdir(dirname(bundlePath), { recursive: true });
  const partial = `${bundlePath}.${process.pid}.${Date.now()}`;
  // One entry point, no code splitting: one output file.
  await writeFile(partial, result.outputFiles[0]!.contents);
  await rename(partial, bundlePath);
}

if (import.meta.main) await buildStorefront();
