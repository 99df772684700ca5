// The token storages: what each keeps, where, and what it makes of a store it cannot read.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { fileTokenStorage } from "./node.ts";
import { browserTokenStorage, type KeyValueStore, memoryTokenStorage } from "./token-storage.ts";

const tokens = {
  accessToken: "a",
  refreshToken: "r",
  accessExpireTime: "2030-01-01T00:00:00.000Z",
  refreshExpireTime: undefined,
};

function mapStore(): KeyValueStore & { items: Map<string, string> } {
  const items = new Map<string, string>();
  return {
    items,
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => void items.set(key, value),
    removeItem: (key) => void items.delete(key),
  };
}

const scratch = mkdtempSync(join(tmpdir(), "bazaar-sdk-tokens-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("token storage", () => {
  it("when tokens are saved in memory, then they are loaded back until cleared", async () => {
    const storage = memoryTokenStorage();
    expect(await storage.load()).toBeUndefined();
    await storage.save(tokens);
    expect(await storage.load()).toEqual(tokens);
    await storage.clear();
    expect(await storage.load()).toBeUndefined();
  });

  it("when a page keeps tokens, then they are JSON under the key in the store given, and anything else there is no session", () => {
    const store = mapStore();
    const storage = browserTokenStorage("bazaar.tokens", store);
    storage.save(tokens);
    expect(JSON.parse(store.items.get("bazaar.tokens")!)).toMatchObject({ accessToken: "a", refreshToken: "r" });
    expect(storage.load()).toEqual(tokens);

    store.setItem("bazaar.tokens", "{not json");
    expect(storage.load()).toBeUndefined();
    store.setItem("bazaar.tokens", JSON.stringify({ accessToken: 1 }));
    expect(storage.load()).toBeUndefined();
    storage.clear();
    expect(store.items.has("bazaar.tokens")).toBe(false);
  });

  it("when there is no localStorage and no store is given, then using the storage says so", () => {
    expect(() => browserTokenStorage().load()).toThrow(/no localStorage/);
  });

  it("when a Node program keeps tokens in a file, then only its user may read it, and a missing file is no session", async () => {
    const path = join(scratch, "nested", "tokens.json");
    const storage = fileTokenStorage(path);
    expect(await storage.load()).toBeUndefined();

    await storage.save(tokens);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(path, "utf8"))).toMatchObject({ accessToken: "a", refreshToken: "r" });
    expect(await fileTokenStorage(path).load()).toEqual(tokens);

    writeFileSync(path, "garbage");
    expect(await storage.load()).toBeUndefined();
    await storage.clear();
    await storage.clear();
    expect(await storage.load()).toBeUndefined();
  });
});
