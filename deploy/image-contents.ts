// What the Bazaar image holds, read from deploy/Dockerfile and its .dockerignore, and what the
// processes it runs need: every source file and package their imports reach. No Docker engine
// is needed, so the tests can tell on any machine whether the image would start.
import { build } from "esbuild";

export interface DockerfileFacts {
  /** Repository paths the final stage copies from the build context. */
  copiedFromContext: string[];
  /** What the final stage copies from earlier stages (COPY --from=stage path …). */
  copiedFromStages: Array<{ stage: string; path: string }>;
  /** USER of the final stage, "uid" or "uid:gid". */
  user: string | undefined;
  exposedPorts: number[];
  entrypoint: string[];
  /** ENV of the final stage, KEY=value form. */
  env: Record<string, string>;
}

/** The final stage of a Dockerfile (after its last FROM); JSON-form instructions only. */
export function readDockerfile(text: string): DockerfileFacts {
  const lines = text
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith("#"));
  const finalStage = lines.slice(lines.findLastIndex((line) => /^FROM\s/i.test(line)));
  const facts: DockerfileFacts = {
    copiedFromContext: [],
    copiedFromStages: [],
    user: undefined,
    exposedPorts: [],
    entrypoint: [],
    env: {},
  };
  for (const line of finalStage) {
    const [instruction, ...words] = line.split(/\s+/);
    switch (instruction?.toUpperCase()) {
      case "COPY": {
        const paths = words.filter((word) => !word.startsWith("--"));
        const stage = words.find((word) => word.startsWith("--from="))?.slice("--from=".length);
        if (stage) {
          facts.copiedFromStages.push(...paths.slice(0, -1).map((path) => ({ stage, path: path.replace(/\/$/, "") })));
          break;
        }
        facts.copiedFromContext.push(...paths.slice(0, -1).map((path) => path.replace(/\/$/, "")));
        break;
      }
      case "USER":
        facts.user = words[0];
        break;
      case "EXPOSE":
        facts.exposedPorts.push(...words.map((word) => Number(word.replace(/\/tcp$/, ""))));
        break;
      case "ENV":
        for (const word of words) {
          const [key, ...value] = word.split("=");
          facts.env[key!] = value.join("=");
        }
        break;
      case "ENTRYPOINT":
        facts.entrypoint = JSON.parse(words.join(" ")) as string[];
        break;
    }
  }
  return facts;
}

/**
 * Whether a .dockerignore lets `path` into the build context: the last pattern matching the
 * path or one of its parent folders decides, "!" re-includes. Patterns: `*` within a path
 * segment, `**` across segments.
 */
export function contextIncludes(dockerignore: string, path: string): boolean {
  const patterns = dockerignore
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith("#"));
  const segments = path.split("/");
  const candidates = segments.map((_, index) => segments.slice(0, index + 1).join("/"));
  let included = true;
  for (const pattern of patterns) {
    const negated = pattern.startsWith("!");
    const regex = globToRegExp(negated ? pattern.slice(1) : pattern);
    if (candidates.some((candidate) => regex.test(candidate))) included = negated;
  }
  return included;
}

function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/^\/+|\/+$/g, "")
    .split(/(\*\*\/|\*\*|\*)/)
    .map((part) =>
      part === "**/"
        ? "(?:.*/)?"
        : part === "**"
          ? ".*"
          : part === "*"
            ? "[^/]*"
            : part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"),
    )
    .join("");
  return new RegExp(`^${body}$`);
}

/** Whether the image has `path`: copied by the final stage and let into the build context. */
export function imageHas(facts: DockerfileFacts, dockerignore: string, path: string): boolean {
  const copied = facts.copiedFromContext.some((source) => path === source || path.startsWith(`${source}/`));
  return copied && contextIncludes(dockerignore, path);
}

export interface RuntimeImports {
  /** Repository files reached from the entries (relative paths). */
  files: string[];
  /** Package names imported, without subpaths or node: builtins. */
  packages: string[];
}

/** Every file and package the entries reach through their imports, as esbuild resolves them. */
export async function runtimeImports(root: string, entries: string[]): Promise<RuntimeImports> {
  const result = await build({
    absWorkingDir: root,
    entryPoints: entries,
    bundle: true,
    write: false,
    metafile: true,
    platform: "node",
    format: "esm",
    packages: "external",
    outdir: "out",
    logLevel: "silent",
  });
  const packages = new Set<string>();
  for (const input of Object.values(result.metafile.inputs)) {
    for (const imported of input.imports) {
      if (imported.external && !imported.path.startsWith("node:")) packages.add(packageName(imported.path));
    }
  }
  return { files: Object.keys(result.metafile.inputs).sort(), packages: [...packages].sort() };
}

function packageName(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!;
}
