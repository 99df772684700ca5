// Whether a gRPC server answers SERVING to grpc.health.v1 (its overall status), within 2 s:
// the image's health check for runtimes without native gRPC probes, and the local mesh's check
// that every replica is up.
import { createClient } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/grpc/health/v1/health_pb.ts";
import { createGrpcTransport } from "../../services/kit/grpc-transport.ts";

const timeoutMs = 2_000;

export async function grpcServing(address: string): Promise<boolean> {
  const transport = createGrpcTransport(address, { defaultTimeoutMs: timeoutMs });
  try {
    const { status } = await createClient(Health, transport).check({ service: "" });
    return status === HealthCheckResponse_ServingStatus.SERVING;
  } finally {
    transport.close();
  }
}
