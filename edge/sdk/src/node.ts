// What only Node programs need: tokens kept in a file, so a CLI stays signed in between runs.
// A subpath of its own (`@bazaar/sdk/node`) so browser bundles never import node:fs.
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { parseStoredTokens, type TokenStorage } from "./token-storage.ts";

/**
 * Tokens in the JSON file at `path`, readable by this user only (0600). Written to a temporary
 * file and renamed, so a crash mid-write leaves the old tokens rather than half a file.
 */
export function fileTokenStorage(path: string): TokenStorage {
  return {
    async load() {
      try {
        return parseStoredTokens(await readFile(path, "utf8"));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw error;
      }
    },
    async save(tokens) {
      await mkdir(dirname(path), { recursive: true });
      const temporary = `${path}.${process.pid}.tmp`;
      await writeFile(temporary, JSON.stringify(tokens), { mode: 0o600 });
      await rename(temporary, path);
    },
    async clear() {
      await rm(path, { force: true });
    },
  };
}
