// Builds the package into dist/: one ES module per entry point (index, node, the contracts'
// subpaths) with the code they share in chunks, and the .d.ts of each. Run by `npm run build`
// and before every `npm pack`.
//
// The JavaScript is bundled by esbuild from src/ and the generated TypeScript in gen/ it
// imports, so the package carries its own copy of the contracts. Left out of the bundle, and
// dependencies of the package: @bufbuild/protobuf and @connectrpc/connect(-web), which an app
// shares with its own code. The buf/validate descriptors gen/ imports from
// @bufbuild/protovalidate are bundled (a few kilobytes of descriptor), so installing the SDK
// does not bring protovalidate and its CEL interpreter.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = fileURLToPath(new URL(".", import.meta.url));
const dist = join(here, "dist");
const packageJson = JSON.parse(readFileSync(join(here, "package.json"), "utf8")) as {
  exports: Record<string, { default: string }>;
  dependencies: Record<string, string>;
};

rmSync(dist, { recursive: true, force: true });

// Entry points from the exports map: "./dist/contracts/order.js" comes from src/contracts/order.ts.
const entryPoints = Object.fromEntries(
  Object.values(packageJson.exports).map(({ default: file }) => {
    const name = file.replace(/^\.\/dist\//, "").replace(/\.js$/, "");
    return [name, join(here, "src", `${name}.ts`)];
  }),
);
await build({
  entryPoints,
  outdir: dist,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "neutral",
  target: "es2022",
  chunkNames: "chunks/[name]-[hash]",
  external: [...Object.keys(packageJson.dependencies).flatMap((name) => [name, `${name}/*`]), "node:*"],
  logLevel: "warning",
});

const tsc = join(here, "../../node_modules/.bin/tsc");
execFileSync(tsc, ["-p", join(here, "tsconfig.build.json")], { stdio: "inherit" });

// Every import of the shipped files must be the package's own or a dependency's, and only the
// `./node` entry may use Node's modules: the rest goes into browser bundles.
const allowed = new Set(Object.keys(packageJson.dependencies));
const specifiers = /^(?:import|export)\b[^;]*?from\s*"([^"]+)"|\bimport\("([^"]+)"\)/gm;
for (const file of filesUnder(dist)) {
  const shipped = file.slice(dist.length + 1);
  for (const [, from, dynamic] of readFileSync(file, "utf8").matchAll(specifiers)) {
    const specifier = (from ?? dynamic)!;
    if (specifier.startsWith(".")) continue;
    if (specifier.startsWith("node:")) {
      if (shipped === "node.js" || shipped.startsWith("types/")) continue;
      throw new Error(`${shipped} imports ${specifier}: only the ./node entry may use Node's modules`);
    }
    const name = specifier
      .split("/")
      .slice(0, specifier.startsWith("@") ? 2 : 1)
      .join("/");
    if (!allowed.has(name))
      throw new Error(`${shipped} imports ${specifier}, which is not a dependency of the package`);
  }
}
console.log(`built ${filesUnder(dist).length} files in ${dist}`);

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}
