// Account recovery against the real mesh, through the edge's REST routes: a customer asks for a
// reset link, the link is read from the real mail the notification service sent (the test
// mailbox), the password is reset with it, the old session ends (refresh refused, the old
// access token refused by another service within a second), and the link does not work twice.
// An unknown address gets the same answer and no mail. E-mail verification runs the same way,
// and the new access token carries email_verified.
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { eventually } from "../../services/kit/testing/eventually.ts";
import { callRest } from "../support/rest.ts";
import { useMesh } from "../support/use-mesh.ts";

const e2e = useMesh();
const tag = randomBytes(4).toString("hex");
const person = { email: `robin-${tag}@example.test`, password: "password-123", displayName: `Robin ${tag}` };

const edge = () => e2e.mesh.edgeUrl;
/** A mail as the test mailbox parsed it (mailparser's ParsedMail). */
type ParsedMail = Awaited<ReturnType<typeof e2e.mailbox.waitFor>>;
const mailTo = (address: string) => (mail: ParsedMail) =>
  [mail.to].flat().some((to) => to?.value.some((v: { address?: string }) => v.address === address));
const linkIn = (mail: ParsedMail, page: string) => {
  const match = new RegExp(`#${page}\\?token=([A-Za-z0-9_-]+)`).exec(`${mail.text ?? ""} ${mail.html || ""}`);
  expect(match, `a #${page} link in the mail`).not.toBeNull();
  return match![1]!;
};
const claimsOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split(".")[1]!, "base64url").toString());

describe("account recovery through the edge", () => {
  it("when a customer resets their password by the mailed link, then old sessions end and the link is spent", async () => {
    const registered = await callRest(edge(), "POST", "/v1/auth/register", { body: person });
    expect(registered.status).toBe(200);
    const old = registered.body.tokens;
    const stranger = `nobody-${tag}@example.test`;

    const known = await callRest(edge(), "POST", "/v1/auth/password-reset", { body: { email: person.email } });
    const unknown = await callRest(edge(), "POST", "/v1/auth/password-reset", { body: { email: stranger } });
    expect([known.status, known.body]).toEqual([unknown.status, unknown.body]);

    const mail = await e2e.mailbox.waitFor(mailTo(person.email), 20_000);
    const token = linkIn(mail, "reset-password");
    const confirm = await callRest(edge(), "POST", "/v1/auth/password-reset:confirm", {
      body: { token, newPassword: "a-new-password-456" },
    });
    expect(confirm.status).toBe(200);

    const refresh = await callRest(edge(), "POST", "/v1/auth/refresh", { body: { refreshToken: old.refreshToken } });
    expect(refresh.status).toBe(401);
    // The cart service learns of the reset from PasswordChanged, within a second.
    const cart = await eventually(
      () => callRest(edge(), "GET", "/v1/cart", { token: old.accessToken }),
      (answer) => answer.status === 401,
      2_000,
    );
    expect(cart.status).toBe(401);
    const again = await callRest(edge(), "POST", "/v1/auth/password-reset:confirm", {
      body: { token, newPassword: "yet-another-password" },
    });
    expect([again.status, again.body.reason]).toEqual([400, "RESET_TOKEN_INVALID"]);
    const messages = await e2e.mailbox.messages();
    expect(messages.filter(mailTo(stranger))).toEqual([]);
    const login = await callRest(edge(), "POST", "/v1/auth/login", {
      body: { email: person.email, password: "a-new-password-456" },
    });
    expect(login.status).toBe(200);
  });

  it("when the customer confirms their e-mail by the mailed link, then User and a new token say email_verified", async () => {
    const login = await callRest(edge(), "POST", "/v1/auth/login", {
      body: { email: person.email, password: "a-new-password-456" },
    });
    const { accessToken, refreshToken } = login.body.tokens;
    expect(claimsOf(accessToken).email_verified).toBe(false);

    const asked = await callRest(edge(), "POST", "/v1/auth/email-verification", { token: accessToken, body: {} });
    expect(asked.status).toBe(200);
    const mail = await e2e.mailbox.waitFor(
      (m) => mailTo(person.email)(m) && /#verify-email\?token=/.test(`${m.text ?? ""} ${m.html || ""}`),
      20_000,
    );
    const verified = await callRest(edge(), "POST", "/v1/auth/email-verification:confirm", {
      body: { token: linkIn(mail, "verify-email") },
    });
    expect(verified.body.user).toMatchObject({ email: person.email, emailVerified: true });
    const renewed = await callRest(edge(), "POST", "/v1/auth/refresh", { body: { refreshToken } });
    expect(claimsOf(renewed.body.tokens.accessToken).email_verified).toBe(true);
  });
});
