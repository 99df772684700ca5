// The C load generators, h2load (Debian nghttp2-client) and wrk, installed with apt-get when
// missing and running as root, the way deploy/local/toolchain.sh installs the servers; otherwise
// the one command that would install them.
import { execFileSync, spawnSync } from "node:child_process";

const tools = [
  { command: "h2load", versionArgs: ["--version"], debianPackage: "nghttp2-client" },
  { command: "wrk", versionArgs: ["-v"], debianPackage: "wrk" },
];

export function ensureLoadTools(log: (line: string) => void): void {
  const missing = tools
    .filter((tool) => spawnSync(tool.command, tool.versionArgs).error !== undefined)
    .map((tool) => tool.debianPackage);
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0)
    throw new Error(`missing load generators: sudo apt-get install -y ${missing.join(" ")}`);
  log(`installing ${missing.join(" ")} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
  execFileSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...missing], { stdio: "inherit", env });
}

/** The generators' versions, for the results' description of the machine. */
export function loadToolVersions(): Record<string, string> {
  return Object.fromEntries(
    tools.map((tool) => {
      const run = spawnSync(tool.command, tool.versionArgs, { encoding: "utf8" });
      const line = `${run.stdout}${run.stderr}`.split("\n").find((text) => text.trim()) ?? "unknown";
      return [tool.command, line.replace(/\s+Copyright.*$/, "").trim()];
    }),
  );
}
