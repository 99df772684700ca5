// The edge's REST API described: the OpenAPI document generated from proto/ (gen/openapi/) at
// /openapi.json, and an interactive page on it at /docs: Swagger UI from the swagger-ui-dist
// package, served from here as well, so the page loads nothing from elsewhere. Without `docs`
// only the document.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { StaticFile, StaticFiles } from "../static-files.ts";

export function openApiFiles({ docs }: { docs: boolean }): StaticFiles {
  const own = (path: string, contentType: string): StaticFile => ({
    body: readFileSync(new URL(path, import.meta.url)),
    contentType,
  });
  const document: StaticFiles = new Map([
    ["/openapi.json", own("../../gen/openapi/bazaar.openapi.json", "application/json")],
  ]);
  if (!docs) return document;
  const swaggerUiDir = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
  const swaggerUi = (name: string, contentType: string): StaticFile => ({
    body: readFileSync(join(swaggerUiDir, name)),
    contentType,
  });
  const page = own("docs/index.html", "text/html; charset=utf-8");
  return new Map([
    ...document,
    ["/docs", page],
    ["/docs/", page],
    // Our own start script: swagger-ui-dist's swagger-initializer.js loads a demo document.
    ["/docs/init.js", own("docs/init.js", "text/javascript; charset=utf-8")],
    ["/docs/swagger-ui-bundle.js", swaggerUi("swagger-ui-bundle.js", "text/javascript; charset=utf-8")],
    ["/docs/swagger-ui.css", swaggerUi("swagger-ui.css", "text/css; charset=utf-8")],
    ["/docs/index.css", swaggerUi("index.css", "text/css; charset=utf-8")],
    ["/docs/favicon-32x32.png", swaggerUi("favicon-32x32.png", "image/png")],
  ]);
}
