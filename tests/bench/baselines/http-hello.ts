// The raw HTTP baselines: a hello world on node:http and node:http2, loaded by each generator the
// mesh scenarios use, so every scenario is divided by the ceiling of its own protocol *and*
// load generator (the node driver's own cost shows up in its baseline, not as the mesh's).
import type { HelloServers } from "../hello-servers.ts";
import { connectUnary } from "../load/http2-client.ts";
import { fixedRequestScenario, nodeDriverScenario, type Scenario } from "../scenarios/scenario.ts";

export const rawBaselineIds = {
  http1Wrk: "baseline.http1.wrk",
  h2cH2load: "baseline.h2c.h2load",
  h2cNodeDriver: "baseline.h2c.node-driver",
} as const;

export function helloBaselines(servers: HelloServers): Scenario[] {
  return [
    fixedRequestScenario(
      {
        id: rawBaselineIds.http1Wrk,
        kind: "baseline",
        title: "raw node:http hello world",
        protocol: "HTTP/1.1",
        sweep: true,
      },
      "wrk",
      { url: servers.http1Url },
    ),
    fixedRequestScenario(
      {
        id: rawBaselineIds.h2cH2load,
        kind: "baseline",
        title: "raw node:http2 hello world",
        protocol: "h2c",
        sweep: true,
      },
      "h2load",
      { url: servers.http2Url },
    ),
    nodeDriverScenario(
      {
        id: rawBaselineIds.h2cNodeDriver,
        kind: "baseline",
        title: "raw node:http2 hello world",
        protocol: "h2c",
        sweep: true,
      },
      new URL(servers.http2Url).origin,
      // A POST with a small JSON body, as the driver sends the mesh.
      (connections, worker) => connectUnary(connections.for(worker), "/", "{}"),
    ),
  ];
}
