/// <reference lib="dom" />
// Small helpers every part of the storefront uses: the page's elements and templates, money,
// short ids, status history entries and an abortable sleep.
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { Money } from "../../gen/bazaar/common/v1/common_pb.ts";

export function element<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no #${id}`);
  return found as T;
}

export function fromTemplate<T extends HTMLElement>(id: string): T {
  return element<HTMLTemplateElement>(id).content.firstElementChild!.cloneNode(true) as T;
}

export function part<T extends HTMLElement = HTMLElement>(root: HTMLElement, selector: string): T {
  const found = root.querySelector<T>(selector);
  if (!found) throw new Error(`no ${selector} in the template`);
  return found;
}

/** Sets an element's text only when it changes: live lists re-render often, and a watcher of the page sees real changes only. */
export function setText(target: HTMLElement, text: string): void {
  if (target.textContent !== text) target.textContent = text;
}

export function formatMoney(money: Money | undefined): string {
  if (!money) return "";
  const format = new Intl.NumberFormat(undefined, { style: "currency", currency: money.currencyCode });
  return format.format(Number(money.amountMinor) / 10 ** (format.resolvedOptions().maximumFractionDigits ?? 2));
}

/** The end of a UUIDv7: its start is a timestamp, shared by orders placed close together. */
export const shortId = (id: string) => `#${id.slice(-8)}`;

/** One entry of a status history: the status, when, and the note if there is one. */
export function historyEntry(status: string, time: Timestamp | undefined, note: string): HTMLLIElement {
  const entry = document.createElement("li");
  entry.dataset.status = status;
  const shown = document.createElement("time");
  if (time) {
    const at = timestampDate(time);
    shown.dateTime = at.toISOString();
    shown.textContent = at.toLocaleTimeString();
  }
  entry.append(`${status} `, shown, note ? ` — ${note}` : "");
  return entry;
}

/**
 * The row of `list` whose data-<key> is `id`, made by `create` and inserted newest first when
 * there is none yet: the ids are UUIDv7, which sort by creation time.
 */
export function rowById<T extends HTMLElement>(list: HTMLElement, key: string, id: string, create: () => T): T {
  const rows = [...list.children] as T[];
  const existing = rows.find((row) => row.dataset[key] === id);
  if (existing) return existing;
  const row = create();
  row.dataset[key] = id;
  list.insertBefore(row, rows.find((other) => other.dataset[key]! < id) ?? null);
  return row;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
