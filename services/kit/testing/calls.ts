// Small helpers for tests that call RPCs.
import { ConnectError } from "@connectrpc/connect";

/** The error a call failed with; a call that succeeds fails the test. */
export async function failureOf(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error("expected the call to fail");
}

/** Call options carrying an access token. */
export const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
