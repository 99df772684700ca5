// Identity across the real mesh: sign-up to sign-out through the edge, refresh-token rotation and
// theft detection, forged tokens, role escalation, deactivation reaching other services, login
// throttling, and internal RPCs closed to users.
import { createPrivateKey, generateKeyPairSync, randomBytes } from "node:crypto";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { base64url, decodeJwt, decodeProtectedHeader, SignJWT, UnsecuredJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { bearer, failureOf } from "../../services/kit/testing/calls.ts";
import { expectEvents } from "../support/events.ts";
import { AuthService, ServiceIdentityService, UserDirectoryService } from "../../gen/bazaar/auth/v1/auth_pb.ts";
import { Role } from "../../gen/bazaar/common/v1/common_pb.ts";
import { RetryInfoSchema } from "../../gen/google/rpc/error_details_pb.ts";
import { devServiceSecret } from "../../services/kit/config.ts";
import { createMeshClient } from "../../services/kit/clients.ts";
import { devAccounts } from "../../services/kit/dev-accounts.ts";
import { connectJson } from "../support/mesh.ts";
import { callRest } from "../support/rest.ts";
import { eventually } from "../../services/kit/testing/eventually.ts";
import { useMesh } from "../support/use-mesh.ts";

const maxFailuresPerAddress = 25;
// Low limits keep the throttling stories short: the per-address one sits above the dozen
// failures the other stories cause from this one address; the edge trusts no proxy (default).
const e2e = useMesh({
  env: {
    BAZAAR_LOGIN_MAX_FAILURES_PER_ACCOUNT: "4",
    BAZAAR_LOGIN_MAX_FAILURES_PER_IP: String(maxFailuresPerAddress),
  },
  httpVersion: "1.1",
});
const { auth, carts: cart } = e2e;

const uniqueEmail = () => `user-${randomBytes(5).toString("hex")}@example.test`;

/** A call on another service that needs a signed-in user. */
async function cartAccepts(token: string): Promise<boolean> {
  try {
    await cart.getCart({}, bearer(token));
    return true;
  } catch (error) {
    if ((error as ConnectError).code === Code.Unauthenticated) return false;
    throw error;
  }
}

describe("a customer's session, through the edge", () => {
  it("registers, signs in, reads and edits their account, rotates tokens, and a replayed refresh token ends the session", async () => {
    const email = uniqueEmail();
    const registered = await auth.register({
      email: `  ${email.toUpperCase()} `,
      password: "correct horse battery",
      displayName: "Ada",
    });
    expect(registered.user?.email).toBe(email);
    expect(registered.user?.role).toBe(Role.CUSTOMER);

    const { user, tokens } = await auth.login({ email, password: "correct horse battery" });
    const header = decodeProtectedHeader(tokens!.accessToken);
    const claims = decodeJwt(tokens!.accessToken);
    expect(header).toMatchObject({ alg: "EdDSA", typ: "at+jwt" });
    expect(header.kid).toBeTruthy();
    expect(claims).toMatchObject({ iss: "bazaar-auth", aud: "bazaar", sub: user!.id, role: "customer" });
    // iat to the millisecond, nbf and exp in whole seconds around it.
    expect(claims.exp! - claims.nbf!).toBe(900);
    expect(claims.iat! - claims.nbf!).toBeGreaterThanOrEqual(0);
    expect(claims.iat! - claims.nbf!).toBeLessThan(1);
    expect(Math.round(claims.iat! * 1000) / 1000).toBe(claims.iat);

    const me = await auth.getMe({}, bearer(tokens!.accessToken));
    expect(me.user?.id).toBe(user!.id);
    expect(me.user?.lastLoginTime).toBeDefined();

    const updated = await auth.updateMe(
      { user: { displayName: "Ada L.", phone: "+49 30 123" }, updateMask: { paths: ["display_name", "phone"] } },
      bearer(tokens!.accessToken),
    );
    expect(updated.user).toMatchObject({ displayName: "Ada L.", phone: "+49 30 123", email });

    const rotated = await auth.refreshToken({ refreshToken: tokens!.refreshToken });
    expect(rotated.tokens!.refreshToken).not.toBe(tokens!.refreshToken);
    expect((await auth.getMe({}, bearer(rotated.tokens!.accessToken))).user?.id).toBe(user!.id);

    // Presenting the rotated-away token again (after the concurrency grace) means it leaked.
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    expect((await failureOf(auth.refreshToken({ refreshToken: tokens!.refreshToken }))).code).toBe(
      Code.Unauthenticated,
    );
    expect((await failureOf(auth.refreshToken({ refreshToken: rotated.tokens!.refreshToken }))).code).toBe(
      Code.Unauthenticated,
    );

    const again = await auth.login({ email, password: "correct horse battery" });
    await auth.logout({ refreshToken: again.tokens!.refreshToken });
    expect((await failureOf(auth.refreshToken({ refreshToken: again.tokens!.refreshToken }))).code).toBe(
      Code.Unauthenticated,
    );
  });

  it("when two refreshes race with one token, then exactly one gets a new pair and that pair keeps working", async () => {
    const email = uniqueEmail();
    const { tokens } = await auth.register({ email, password: "race-condition-pw", displayName: "Racer" });
    const results = await Promise.allSettled([
      auth.refreshToken({ refreshToken: tokens!.refreshToken }),
      auth.refreshToken({ refreshToken: tokens!.refreshToken }),
    ]);
    const winners = results.filter((r) => r.status === "fulfilled");
    expect(winners).toHaveLength(1);
    const pair = (winners[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof auth.refreshToken>>>).value.tokens!;
    expect((await auth.refreshToken({ refreshToken: pair.refreshToken })).tokens?.accessToken).toBeTruthy();
  });

  it("when the password changes, then other sessions end and the new one works", async () => {
    const email = uniqueEmail();
    const first = await auth.register({ email, password: "old-password-1", displayName: "Pat" });
    const changed = await auth.changePassword(
      { currentPassword: "old-password-1", newPassword: "new-password-2" },
      bearer(first.tokens!.accessToken),
    );
    expect((await failureOf(auth.refreshToken({ refreshToken: first.tokens!.refreshToken }))).code).toBe(
      Code.Unauthenticated,
    );
    expect((await auth.refreshToken({ refreshToken: changed.tokens!.refreshToken })).tokens).toBeDefined();
    expect((await failureOf(auth.login({ email, password: "old-password-1" }))).code).toBe(Code.Unauthenticated);
    await auth.login({ email, password: "new-password-2" });
    // Another service learns of it from PasswordChanged: the old access token is refused within a
    // second, the new session's (issued right after the change) is not.
    const oldToken = await eventually(
      () =>
        cart.getCart({}, bearer(first.tokens!.accessToken)).then(
          () => "accepted",
          (e) => ConnectError.from(e).code,
        ),
      (code) => code === Code.Unauthenticated,
      1_000,
    );
    expect(oldToken).toBe(Code.Unauthenticated);
    expect((await cart.getCart({}, bearer(changed.tokens!.accessToken))).cart).toBeDefined();
  });
});

describe("sign-in failures", () => {
  it("when the e-mail is unknown or the password wrong, then both get the same error", async () => {
    const email = uniqueEmail();
    await auth.register({ email, password: "the-right-one", displayName: "Sam" });
    const unknown = await failureOf(auth.login({ email: uniqueEmail(), password: "the-right-one" }));
    const wrong = await failureOf(auth.login({ email, password: "not-the-right-one" }));
    expect([unknown.code, wrong.code]).toEqual([Code.Unauthenticated, Code.Unauthenticated]);
    expect(unknown.rawMessage).toBe(wrong.rawMessage);
  });

  it("when an e-mail is registered twice (any case), then the second is already_exists", async () => {
    const email = uniqueEmail();
    await auth.register({ email, password: "password-123", displayName: "One" });
    expect(
      (await failureOf(auth.register({ email: email.toUpperCase(), password: "password-123", displayName: "Two" })))
        .code,
    ).toBe(Code.AlreadyExists);
  });

  it("when a password is too short or too long, then it is refused before hashing", async () => {
    const short = await failureOf(auth.register({ email: uniqueEmail(), password: "short", displayName: "X" }));
    const long = await failureOf(auth.register({ email: uniqueEmail(), password: "x".repeat(129), displayName: "X" }));
    expect([short.code, long.code]).toEqual([Code.InvalidArgument, Code.InvalidArgument]);
    expect(short.rawMessage).toMatch(/password/);
  });

  it("when an account keeps failing, then sign-in is throttled with retry info, even with the right password", async () => {
    const email = uniqueEmail();
    await auth.register({ email, password: "right-password", displayName: "Target" });
    for (let i = 0; i < 4; i++) await failureOf(auth.login({ email, password: `guess-${i}-wrong` }));
    const throttled = await failureOf(auth.login({ email, password: "right-password" }));
    expect(throttled.code).toBe(Code.ResourceExhausted);
    expect(throttled.findDetails(RetryInfoSchema)[0]?.retryDelay?.seconds).toBeGreaterThan(0n);
  });
});

describe("roles", () => {
  it("when someone signs up as ADMIN, then permission_denied; as SELLER, then a seller", async () => {
    expect(
      (
        await failureOf(
          auth.register({ email: uniqueEmail(), password: "password-123", displayName: "Eve", role: Role.ADMIN }),
        )
      ).code,
    ).toBe(Code.PermissionDenied);
    const seller = await auth.register({
      email: uniqueEmail(),
      password: "password-123",
      displayName: "Sol",
      role: Role.SELLER,
    });
    expect(seller.user?.role).toBe(Role.SELLER);
  });

  it("when UpdateMe names role or email in its mask, then invalid_argument and nothing changes", async () => {
    const email = uniqueEmail();
    const { tokens } = await auth.register({ email, password: "password-123", displayName: "Mal" });
    for (const path of ["role", "email", "id"]) {
      const error = await failureOf(
        auth.updateMe(
          { user: { role: Role.ADMIN, email: "x@y.z", id: "x" }, updateMask: { paths: [path] } },
          bearer(tokens!.accessToken),
        ),
      );
      expect(error.code, path).toBe(Code.InvalidArgument);
    }
    const me = await auth.getMe({}, bearer(tokens!.accessToken));
    expect(me.user).toMatchObject({ role: Role.CUSTOMER, email });
  });
});

describe("forged and misused tokens", () => {
  let genuine: string;
  let refreshToken: string;
  beforeAll(async () => {
    const { tokens } = await auth.register({ email: uniqueEmail(), password: "password-123", displayName: "Vic" });
    genuine = tokens!.accessToken;
    refreshToken = tokens!.refreshToken;
  });

  const now = () => Math.floor(Date.now() / 1000);
  const claimsOf = () => decodeJwt(genuine);
  const kidOf = () => decodeProtectedHeader(genuine).kid!;
  const ownKey = createPrivateKey(generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" }));

  const forgeries: Array<[string, () => Promise<string>]> = [
    ["alg none", async () => new UnsecuredJWT(claimsOf()).encode()],
    [
      "HS256 with the public key as secret",
      async () => {
        const jwks = (await callRest(e2e.mesh.edgeUrl, "GET", "/.well-known/jwks.json")).body as { keys: unknown[] };
        const secret = new TextEncoder().encode(JSON.stringify(jwks.keys[0]));
        return new SignJWT(claimsOf()).setProtectedHeader({ alg: "HS256", kid: kidOf(), typ: "at+jwt" }).sign(secret);
      },
    ],
    ["signed by another key under a known kid", async () => sign({ ...claimsOf() }, kidOf())],
    ["unknown kid", async () => sign({ ...claimsOf() }, "no-such-kid")],
    ["expired", async () => sign({ ...claimsOf(), iat: now() - 3600, nbf: now() - 3600, exp: now() - 60 }, kidOf())],
    ["not yet valid", async () => sign({ ...claimsOf(), nbf: now() + 600 }, kidOf())],
    ["wrong audience", async () => sign({ ...claimsOf(), aud: "someone-else" }, kidOf())],
    ["a role upgraded by hand", async () => tamperPayload(genuine, { role: "admin" })],
    ["a refresh token as access token", async () => refreshToken],
    ["garbage", async () => "not.a.jwt"],
  ];

  function sign(claims: Record<string, unknown>, kid: string) {
    return new SignJWT(claims).setProtectedHeader({ alg: "EdDSA", kid, typ: "at+jwt" }).sign(ownKey);
  }

  function tamperPayload(token: string, changes: Record<string, unknown>) {
    const [head, payload, signature] = token.split(".");
    const claims = { ...JSON.parse(new TextDecoder().decode(base64url.decode(payload!))), ...changes };
    return `${head}.${base64url.encode(JSON.stringify(claims))}.${signature}`;
  }

  it.each(forgeries)("when a token is %s, then unauthenticated", async (_, forge) => {
    expect(await cartAccepts(genuine)).toBe(true);
    const error = await failureOf(auth.getMe({}, bearer(await forge())));
    expect(error.code).toBe(Code.Unauthenticated);
  });
});

describe("deactivation and internal RPCs", () => {
  it("when an admin deactivates a user, then another service refuses their token within a second", async () => {
    const { user, tokens } = await auth.register({
      email: uniqueEmail(),
      password: "password-123",
      displayName: "Gone",
    });
    expect(await cartAccepts(tokens!.accessToken)).toBe(true);

    const identity = createMeshClient(ServiceIdentityService, e2e.mesh.addresses.auth);
    const directory = createMeshClient(UserDirectoryService, e2e.mesh.addresses.auth);
    const service = await identity.client.issueServiceToken({ serviceName: "admin", secret: devServiceSecret });
    const deactivatedAt = Date.now();
    await directory.client.setUserActive({ id: user!.id, active: false }, bearer(service.accessToken));

    let refused = false;
    while (!refused && Date.now() - deactivatedAt < 1_000) refused = !(await cartAccepts(tokens!.accessToken));
    expect(refused).toBe(true);
    expect((await failureOf(auth.refreshToken({ refreshToken: tokens!.refreshToken }))).code).toBe(
      Code.Unauthenticated,
    );
    expect((await failureOf(auth.login({ email: user!.email, password: "password-123" }))).code).toBe(
      Code.Unauthenticated,
    );
    identity.close();
    directory.close();
  });

  it("when a customer calls an internal RPC on the service's own port, then permission_denied; through the edge it does not exist", async () => {
    const { accessToken } = (
      await auth.login({ email: devAccounts.customer.email, password: devAccounts.customer.password })
    ).tokens!;
    const directory = createMeshClient(UserDirectoryService, e2e.mesh.addresses.auth);
    expect((await failureOf(directory.client.listUsers({}, bearer(accessToken)))).code).toBe(Code.PermissionDenied);
    const { accessToken: adminToken } = (
      await auth.login({ email: devAccounts.admin.email, password: devAccounts.admin.password })
    ).tokens!;
    expect(
      (
        await failureOf(
          directory.client.setUserRole({ id: devAccounts.customer.id, role: Role.ADMIN }, bearer(adminToken)),
        )
      ).code,
    ).toBe(Code.PermissionDenied);
    expect((await failureOf(directory.client.listUsers({}))).code).toBe(Code.Unauthenticated);
    directory.close();

    const viaEdge = await connectJson(
      e2e.mesh.edgeUrl,
      "bazaar.auth.v1.UserDirectoryService/ListUsers",
      {},
      { authorization: `Bearer ${accessToken}` },
    );
    expect(viaEdge.status).toBe(404);
  });

  it("when a service presents the shared secret, then it gets a service token that opens internal RPCs; a wrong secret does not", async () => {
    const identity = createMeshClient(ServiceIdentityService, e2e.mesh.addresses.auth);
    expect(
      (await failureOf(identity.client.issueServiceToken({ serviceName: "admin", secret: "wrong-secret-of-16+" })))
        .code,
    ).toBe(Code.Unauthenticated);
    const { accessToken } = await identity.client.issueServiceToken({ serviceName: "admin", secret: devServiceSecret });
    const directory = createMeshClient(UserDirectoryService, e2e.mesh.addresses.auth);
    const page = await directory.client.listUsers({ role: Role.ADMIN }, bearer(accessToken));
    expect(page.users.map((u) => u.email)).toContain(devAccounts.admin.email);
    identity.close();
    directory.close();
  });

  it("when a service manages users, then it can read, filter, page, promote them, and each change is an event", async () => {
    const identity = createMeshClient(ServiceIdentityService, e2e.mesh.addresses.auth);
    const directory = createMeshClient(UserDirectoryService, e2e.mesh.addresses.auth);
    const { accessToken } = await identity.client.issueServiceToken({ serviceName: "admin", secret: devServiceSecret });
    const asService = bearer(accessToken);
    const marker = randomBytes(4).toString("hex");
    const created: Array<{ id: string }> = [];
    for (let i = 0; i < 5; i++) {
      created.push(
        (
          await auth.register({
            email: `pager-${marker}-${i}@example.test`,
            password: "password-123",
            displayName: `Pager ${i}`,
          })
        ).user!,
      );
    }

    const seen: string[] = [];
    let pageToken = "";
    do {
      const page = await directory.client.listUsers({ query: `pager-${marker}`, pageSize: 2, pageToken }, asService);
      seen.push(...page.users.map((u) => u.id));
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(seen).toEqual(created.map((u) => u.id).reverse());

    const promoted = await directory.client.setUserRole({ id: created[0]!.id, role: Role.SELLER }, asService);
    expect(promoted.user?.role).toBe(Role.SELLER);
    expect((await directory.client.getUser({ id: created[0]!.id }, asService)).user?.role).toBe(Role.SELLER);
    const sellers = await directory.client.listUsers({ query: `pager-${marker}`, role: Role.SELLER }, asService);
    expect(sellers.users.map((u) => u.id)).toEqual([created[0]!.id]);
    await directory.client.setUserActive({ id: created[1]!.id, active: false }, asService);
    const inactive = await directory.client.listUsers({ query: `pager-${marker}`, active: false }, asService);
    expect(inactive.users.map((u) => u.id)).toEqual([created[1]!.id]);
    expect(
      (await failureOf(directory.client.getUser({ id: "0193a000-0000-7000-8000-00000000dead" }, asService))).code,
    ).toBe(Code.NotFound);

    await expectEvents(e2e.mesh.natsUrl, created[0]!.id, "bazaar.auth.>", [
      "bazaar.auth.user_registered",
      "bazaar.auth.user_role_changed",
    ]);
    await expectEvents(e2e.mesh.natsUrl, created[1]!.id, "bazaar.auth.>", ["bazaar.auth.user_active_changed"]);
    identity.close();
    directory.close();
  });

  it("serves the JWKS at the well-known URL of the edge", async () => {
    const response = await callRest(e2e.mesh.edgeUrl, "GET", "/.well-known/jwks.json");
    expect(response.status).toBe(200);
    const jwks = response.body as { keys: Array<Record<string, unknown>> };
    expect(jwks.keys[0]).toMatchObject({ kty: "OKP", crv: "Ed25519", alg: "EdDSA" });
    expect(jwks.keys[0]?.d).toBeUndefined();
  });
});

// Last in this file: it uses up this address's failure budget.
describe("a client that forges X-Forwarded-For", () => {
  it("when the edge does not trust its peer, then the header is replaced and the failures count against the peer", async () => {
    const forged = createClient(
      AuthService,
      createConnectTransport({
        baseUrl: e2e.mesh.edgeUrl,
        httpVersion: "1.1",
        interceptors: [
          (next) => (req) => {
            req.header.set("x-forwarded-for", `198.51.100.${attempts}`);
            return next(req);
          },
        ],
      }),
    );
    let attempts = 0;
    let answer: ConnectError | undefined;
    // Each attempt names a new account and a new address; only the real peer can add them up.
    while (attempts <= maxFailuresPerAddress) {
      attempts++;
      answer = await failureOf(forged.login({ email: uniqueEmail(), password: "a-wrong-guess" }));
      if (answer.code !== Code.Unauthenticated) break;
    }
    expect(answer?.code).toBe(Code.ResourceExhausted);
    expect(attempts).toBeLessThanOrEqual(maxFailuresPerAddress + 1);
  });
});
