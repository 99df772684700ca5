// What every service's deny list makes of auth's PasswordChanged, against tokens auth really
// issues: every token issued up to the change is refused, none issued after it, to the millisecond.
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { exportJWK, generateKeyPair } from "jose";
import { expect, it } from "vitest";
import { EventSchema } from "../../../gen/bazaar/events/v1/events_pb.ts";
import { createTokenVerifier, DenyList } from "../../kit/auth.ts";
import { applyIdentityEvent } from "../../kit/identity.ts";
import { issueAccessToken } from "./tokens.ts";

it("when a password changes, then a token issued 1 ms later in the same second passes and one issued at or before it is refused", async () => {
  const { publicKey, privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const key = { kid: "k1", privateKey };
  const verifier = createTokenVerifier({
    loadJwks: async () => ({ keys: [{ ...(await exportJWK(publicKey)), kid: "k1", alg: "EdDSA" }] }),
  });
  const changedAt = Math.floor(Date.now() / 1000) * 1000 + 500;
  const user = { id: "u-1", role: "customer" as const, emailVerified: true };
  const tokenAt = async (ms: number) => verifier.verify((await issueAccessToken(key, user, 900, new Date(ms))).token);
  const before = await tokenAt(changedAt - 400);
  const atTheChange = await tokenAt(changedAt);
  const after = await tokenAt(changedAt + 1);
  const denyList = new DenyList();
  applyIdentityEvent(
    denyList,
    create(EventSchema, {
      occurTime: timestampFromMs(changedAt),
      payload: { case: "passwordChanged", value: { userId: user.id } },
    }),
  );
  expect([before, atTheChange, after].map((caller) => denyList.refuses(caller))).toEqual([true, true, false]);
});
