// V8 settings every Bazaar process runs with, locally (deploy/local/mesh.ts puts them in each
// child's NODE_OPTIONS) and in the image (the Dockerfile's ENV NODE_OPTIONS, which the
// deployment tests hold equal to this).
import { join } from "node:path";

// --max-semi-space-size=8 (MB): V8 sizes the young generation from the heap limit, which on a
// box with many GB is large, and a process keeps those pages once it has used them. Measured with
// `npm run bench -- --only cart --duration 8 --concurrency 32 --catalog 0`, same tree, default →
// 8 MB: each idle service 109–125 → 73–90 MB PSS (161–180 → 120–141 MB RSS); at ~600 AddCartItem
// and ~1,300 GetCart a second the cart peaked at 316 → 184 MB PSS and the edge at 340 → 217,
// with CPU per request within the box's noise (2.48 → 2.63 and 1.05 → 1.08 ms, one run each).
export const nodeOptions = "--max-semi-space-size=8";

/** NODE_OPTIONS for a child process: what the caller already had, then ours. */
export function withNodeOptions(inherited: string | undefined): string {
  return [inherited, nodeOptions].filter(Boolean).join(" ");
}

/**
 * Where the local mesh's processes keep Node's compile cache (NODE_COMPILE_CACHE). With it warm
 * a process loads our TypeScript already stripped and compiled, so Node's type stripper (swc in
 * WebAssembly) is never started: one TypeScript module alone, 60 → 42 MB of RSS. The first start
 * of a checkout fills it (each process flushes it once serving); an edited file is compiled again.
 */
export function compileCacheDir(root: string): string {
  return join(root, "node_modules", ".cache", "node-compile");
}
