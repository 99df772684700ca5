// The raw baselines' servers: node:http and node:http2 hello worlds, each in a process of its own
// like the edge, so "× baseline" compares one Node process with another doing the least possible.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";

export interface HelloServers {
  http1Url: string;
  http2Url: string;
  pids: number[];
  stop(): Promise<void>;
}

export async function startHelloServers(): Promise<HelloServers> {
  const http1 = await startHello("http");
  const http2 = await startHello("http2");
  return {
    http1Url: http1.url,
    http2Url: http2.url,
    pids: [http1.child.pid!, http2.child.pid!],
    async stop() {
      for (const { child } of [http1, http2]) {
        if (child.exitCode !== null) continue;
        child.kill();
        await once(child, "exit");
      }
    },
  };
}

/** Listens on a port of the kernel's choosing and says which on its first line. */
async function startHello(module: "http" | "http2"): Promise<{ child: ChildProcess; url: string }> {
  const program = `const s = require("node:${module}").createServer((q, r) => r.end("hello"));
s.listen(0, "127.0.0.1", () => console.log(s.address().port));`;
  const child = spawn(process.execPath, ["-e", program], { stdio: ["ignore", "pipe", "inherit"] });
  const [port] = (await once(createInterface({ input: child.stdout! }), "line")) as [string];
  return { child, url: `http://127.0.0.1:${port}/` };
}
