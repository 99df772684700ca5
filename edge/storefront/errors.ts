/// <reference lib="dom" />
// Every failure ends up in the page, as text: the page's alert for the whole page, or a row's
// own line for an action on that row. A Connect error says its code and, when the service gave
// one, its google.rpc.ErrorInfo reason (the name a client branches on).
import { Code, ConnectError, errorInfoOf } from "../sdk/src/index.ts";
import { element } from "./dom.ts";

const alert = () => element<HTMLParagraphElement>("error");

export function messageOf(error: unknown): string {
  if (error instanceof ConnectError) {
    const reason = errorInfoOf(error)?.reason;
    return `${reason ? `${reason}: ` : ""}${error.rawMessage} (${Code[error.code]})`;
  }
  return error instanceof Error ? error.message : String(error);
}

export function showError(error: unknown): void {
  alert().textContent = messageOf(error);
  alert().hidden = false;
}

export function clearError(): void {
  alert().hidden = true;
}

/**
 * A handler for a user's action: clears the last error, shows this one's (in `where`, or the
 * page's alert), marks the control busy until the work is done.
 */
export function action<E extends Event>(work: (event: E) => Promise<void>, where?: HTMLElement): (event: E) => void {
  return (event) => {
    event.preventDefault();
    const target = event.currentTarget as HTMLElement;
    clearError();
    if (where) where.hidden = true;
    target.setAttribute("aria-busy", "true");
    work(event)
      .catch((error: unknown) => {
        if (!where) return showError(error);
        where.textContent = messageOf(error);
        where.hidden = false;
      })
      .finally(() => target.removeAttribute("aria-busy"));
  };
}
