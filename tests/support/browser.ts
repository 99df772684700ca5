// Headless Chromium for the storefront's e2e files: one browser per file, launched after the
// check that there is one at all, and a recorder of what a page did (requests, console errors,
// loads) for the checks every storefront story ends with.
import { existsSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll } from "vitest";

const chromiumPath = "/usr/bin/chromium";

/**
 * Register before useMesh(): the check runs first, so a box without a browser fails the file
 * before starting a mesh for nothing. The browser itself is launched in a later hook; read it
 * inside tests.
 */
export function requireChromium(): void {
  beforeAll(() => {
    if (!existsSync(chromiumPath)) {
      throw new Error(
        `no Chromium at ${chromiumPath}: install the Debian package (as root: BAZAAR_NEEDS_BROWSER=1 bash deploy/local/toolchain.sh true)`,
      );
    }
  });
}

/** A headless Chromium for the file's tests, closed after them. */
export function useBrowser(): { readonly browser: Browser } {
  let browser: Browser | undefined;
  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
  });
  return {
    get browser() {
      if (!browser) throw new Error("the browser is not running: use it inside tests");
      return browser;
    },
  };
}

/**
 * Everything the page did that the test must see: requests, console errors, navigations (a
 * change of the URL's #fragment counts too) and loads of the document (a reload would).
 */
export function record(page: Page) {
  const seen = { requests: [] as string[], consoleErrors: [] as string[], navigations: 0, loads: 0 };
  page.on("load", () => seen.loads++);
  page.on("request", (request) => seen.requests.push(request.url()));
  page.on("console", (message) => message.type() === "error" && seen.consoleErrors.push(message.text()));
  page.on("pageerror", (error) => seen.consoleErrors.push(`uncaught: ${error.message}`));
  page.on("framenavigated", (frame) => frame === page.mainFrame() && seen.navigations++);
  return seen;
}

/** For what the page shows after a call to the mesh: two cores are shared with other tests. */
export const patiently = { timeout: 15_000, interval: 100 };

// The page's first reads run while six processes and Chromium start beside other test files on
// two cores; one CI run saw ListProducts pass the edge's 2 s read deadline (504) there. The flow
// is under test here, not the deadline (edge-protection and client-deadlines test that).
export const storefrontMeshEnv = { BAZAAR_EDGE_READ_TIMEOUT_MS: "15000" };
