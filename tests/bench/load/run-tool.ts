// Runs a load generator as a child process without blocking this one: the bench samples every
// process's CPU while the generator runs, and its own event loop must stay free to do so.
import { spawn } from "node:child_process";

export interface ToolRun {
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** Told the child's pid as soon as it runs, so its CPU and memory can be watched. */
  onStart?: (pid: number) => void;
}

/** Resolves with the tool's standard output; rejects with its error output if it fails. */
export function runTool(run: ToolRun): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(run.command, run.args, { env: run.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.once("spawn", () => child.pid !== undefined && run.onStart?.(child.pid));
    child.once("error", reject);
    child.once("close", (code) =>
      code === 0
        ? resolve(stdout)
        : reject(new Error(`${run.command} exited ${code}: ${(stderr || stdout).trim().slice(-500)}`)),
    );
  });
}
