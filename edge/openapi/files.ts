// The OpenAPI document generated from proto/ (gen/openapi/), served at /openapi.json.
// TODO(helper A): /docs page from an npm-packaged UI.
import { existsSync, readFileSync } from "node:fs";
import type { StaticFiles } from "../static-files.ts";

export function openApiFiles(): StaticFiles {
  const path = new URL("../../gen/openapi/bazaar.openapi.json", import.meta.url);
  const files: StaticFiles = new Map();
  if (existsSync(path)) files.set("/openapi.json", { body: readFileSync(path), contentType: "application/json" });
  return files;
}
