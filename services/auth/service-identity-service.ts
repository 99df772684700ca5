// ServiceIdentityService: services trade the mesh's shared secret for a service token.
import { createHash, timingSafeEqual } from "node:crypto";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { ServiceIdentityService } from "../../gen/bazaar/auth/v1/auth_pb.ts";
import type { KeyManager } from "./domain/key-manager.ts";
import { issueAccessToken } from "./domain/tokens.ts";

export function createServiceIdentityService(deps: {
  keyManager: KeyManager;
  serviceSecret: string;
  tokenTtlSeconds: number;
}): ServiceImpl<typeof ServiceIdentityService> {
  // Compared as digests so the comparison takes the same time whatever the input's length.
  const expected = createHash("sha256").update(deps.serviceSecret).digest();
  return {
    async issueServiceToken(request) {
      const given = createHash("sha256").update(request.secret).digest();
      if (!timingSafeEqual(given, expected)) throw new ConnectError("wrong service secret", Code.Unauthenticated);
      const subject = { id: `service:${request.serviceName}`, role: "service" as const };
      const { token, expireTime } = await issueAccessToken(
        deps.keyManager.current().signing,
        subject,
        deps.tokenTtlSeconds,
      );
      return { accessToken: token, expireTime: timestampFromDate(expireTime) };
    },
  };
}
