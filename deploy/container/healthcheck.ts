// A container health check for runtimes without native gRPC probes (docker compose; Kubernetes
// probes the services itself). Exit 0 when the process answers SERVING (gRPC, grpc.health.v1)
// or 200 (HTTP), 1 otherwise — the contract of Docker's HEALTHCHECK.
//
//   node deploy/container/healthcheck.ts grpc 127.0.0.1:50052
//   node deploy/container/healthcheck.ts http http://127.0.0.1:8080/readyz
import { grpcServing } from "./grpc-health.ts";

const timeoutMs = 2_000;

async function httpOk(url: string): Promise<boolean> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  return response.ok;
}

const [kind, target] = process.argv.slice(2);
if ((kind !== "grpc" && kind !== "http") || !target) {
  process.stderr.write("usage: healthcheck.ts grpc host:port | http url\n");
  process.exit(2);
}
const healthy = await (kind === "grpc" ? grpcServing(target) : httpOk(target)).catch((error: Error) => {
  process.stderr.write(`${error.message}\n`);
  return false;
});
process.exit(healthy ? 0 : 1);
