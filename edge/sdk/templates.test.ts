// The Swift and Kotlin templates (buf.gen.swift.yaml, buf.gen.kotlin.yaml) cannot be run here:
// their plugins are not installed. What can be checked is checked: that buf accepts their
// inputs and managed mode, and that they ask for exactly the files of the public services —
// the same contracts the TypeScript SDK ships — by running each with protoc-gen-es in place of
// its plugins.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { publicServices } from "./src/clients.ts";

const here = fileURLToPath(new URL(".", import.meta.url));
const root = join(here, "../..");
const scratch = mkdtempSync(join(tmpdir(), "bazaar-sdk-templates-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface Template {
  version: string;
  plugins: Array<{ local?: string; protoc_builtin?: string; out: string; include_imports?: boolean }>;
  inputs: Array<{ directory: string; paths: string[] }>;
  managed?: unknown;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/** The proto files (without .proto) the TypeScript SDK's contract modules re-export. */
function contractsOfTheSdk(): string[] {
  const contracts = join(here, "src/contracts");
  return readdirSync(contracts)
    .flatMap((name) => [...readFileSync(join(contracts, name), "utf8").matchAll(/gen\/(bazaar\/[\w/]+)_pb\.ts"/g)])
    .map((match) => match[1]!)
    .sort();
}

/** Runs `template` with protoc-gen-es instead of its plugins; the proto files it generated for. */
function generatedBy(name: string, template: Template): string[] {
  const file = join(scratch, `${name}.yaml`);
  const plugins = [{ local: "protoc-gen-es", out: "es", include_imports: true, opt: ["target=ts"] }];
  writeFileSync(file, stringify({ ...template, plugins }));
  const out = join(scratch, name);
  const generated = spawnSync("buf", ["generate", "--template", file, "--output", out], {
    cwd: root,
    encoding: "utf8",
  });
  expect(generated.status, generated.stderr).toBe(0);
  return filesUnder(join(out, "es"))
    .map((path) => relative(join(out, "es"), path).replace(/_pb\.ts$/, ""))
    .sort();
}

describe.each(["swift", "kotlin"])("the %s template", (language) => {
  const template = parse(readFileSync(join(here, `buf.gen.${language}.yaml`), "utf8")) as Template;

  it("when read, then it is a v2 template of local plugins that generate imports too", () => {
    expect(template.version).toBe("v2");
    expect(template.plugins.length).toBeGreaterThan(1);
    // Nothing fetched from a remote registry: every plugin runs on this machine.
    for (const plugin of template.plugins) expect(plugin.local ?? plugin.protoc_builtin).toBeTruthy();
    expect(template.plugins.some((plugin) => plugin.include_imports)).toBe(true);
  });

  it("when its inputs are generated, then they are the public services' files and what they import, as in the TypeScript SDK", () => {
    const files = generatedBy(language, template);
    expect(files.filter((file) => file.startsWith("bazaar/"))).toEqual(contractsOfTheSdk());
    expect(files).toContain("google/rpc/error_details");
  }, 60_000);

  it("when its paths are compared with the SDK's clients, then each names a file of a public service and every public service's file is named", () => {
    const asked = template.inputs[0]!.paths.map((path) => path.replace(/^proto\//, "")).filter((path) =>
      path.startsWith("bazaar/"),
    );
    const ofPublicServices = [...new Set(Object.values(publicServices).map((service) => service.file.name))];
    expect(asked.sort()).toEqual(ofPublicServices.map((name) => `${name}.proto`).sort());
  });
});
