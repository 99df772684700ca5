/// <reference lib="dom" />
// Account recovery and e-mail verification in the storefront: the "Forgot password?" form, the
// reset page a mailed link opens (#reset-password?token=…), the banner asking a signed-in user
// with an unverified e-mail to confirm it, and the confirmation a verification link opens
// (#verify-email?token=…). Tokens are read from the address and removed from it at once.
import type { BazaarClients } from "../sdk/src/index.ts";
import { element } from "./dom.ts";
import { action, messageOf } from "./errors.ts";

const page = {
  forgotForm: element<HTMLFormElement>("forgot-form"),
  forgotEmail: element<HTMLInputElement>("forgot-email"),
  forgotStatus: element("forgot-status"),
  resetView: element("reset-view"),
  resetForm: element<HTMLFormElement>("reset-form"),
  resetPassword: element<HTMLInputElement>("reset-password"),
  resetStatus: element("reset-status"),
  verifyBanner: element("verify-banner"),
  verifySend: element<HTMLButtonElement>("verify-send"),
  accountNotice: element("account-notice"),
};

/** The token of an account link in the address (`#<page>?token=…`), if it is one. */
function linkToken(pageName: string): string | undefined {
  const prefix = `#${pageName}?`;
  if (!location.hash.startsWith(prefix)) return undefined;
  return new URLSearchParams(location.hash.slice(prefix.length)).get("token") ?? undefined;
}

/** Takes the token out of the address bar and history, so it is not shared or bookmarked. */
function forgetLink(): void {
  history.replaceState(null, "", location.pathname + location.search);
}

function notice(text: string): void {
  page.accountNotice.textContent = text;
  page.accountNotice.hidden = false;
}

export function setUpAccountPages(auth: BazaarClients["auth"]): void {
  page.forgotForm.addEventListener(
    "submit",
    action(async () => {
      await auth.requestPasswordReset({ email: page.forgotEmail.value.trim() });
      // The same words whether or not the address has an account: auth answers alike too.
      page.forgotStatus.textContent =
        "If an account uses this address, a link to choose a new password is on its way. It works for 30 minutes.";
      page.forgotForm.reset();
    }),
  );

  let resetToken = linkToken("reset-password");
  const showResetPage = () => {
    resetToken = linkToken("reset-password") ?? resetToken;
    if (linkToken("reset-password")) forgetLink();
    page.resetView.hidden = resetToken === undefined;
  };
  page.resetForm.addEventListener(
    "submit",
    action(async () => {
      if (!resetToken) return;
      try {
        await auth.resetPassword({ token: resetToken, newPassword: page.resetPassword.value });
      } catch (error) {
        page.resetStatus.textContent = `The password was not changed: ${messageOf(error)}`;
        return;
      }
      resetToken = undefined;
      page.resetView.hidden = true;
      page.resetPassword.value = "";
      notice("Your password is changed and every other session has ended. Sign in with the new password.");
    }),
  );

  const confirmEmail = async () => {
    const token = linkToken("verify-email");
    if (!token) return;
    forgetLink();
    try {
      await auth.verifyEmail({ token });
      page.verifyBanner.hidden = true;
      notice("Your e-mail address is confirmed.");
    } catch (error) {
      notice(`The e-mail address was not confirmed: ${messageOf(error)}`);
    }
  };

  addEventListener("hashchange", () => {
    showResetPage();
    void confirmEmail();
  });
  showResetPage();
  void confirmEmail();
}

/** Shows the "confirm your e-mail" banner while the signed-in user's e-mail is unverified. */
export async function showVerifyBanner(signedInAuth: BazaarClients["auth"], ended: AbortSignal): Promise<void> {
  const { user } = await signedInAuth.getMe({});
  if (ended.aborted) return;
  page.verifyBanner.hidden = user?.emailVerified !== false;
  page.verifySend.onclick = action(async () => {
    await signedInAuth.requestEmailVerification({});
    page.verifySend.disabled = true;
    page.verifySend.textContent = "Link sent: check your mail";
  });
  ended.addEventListener("abort", () => {
    page.verifyBanner.hidden = true;
    page.verifySend.disabled = false;
    page.verifySend.textContent = "Send the link";
  });
}
