import { describe, expect, it } from "vitest";
import { FeedSignals } from "./feed-signals.ts";

describe("feed signals", () => {
  it("when a buyer's change is announced, then only that buyer's waiters wake, once", async () => {
    const signals = new FeedSignals();
    const woken: string[] = [];
    const alice = signals.next("alice");
    const bob = signals.next("bob");
    void alice.changed.then(() => woken.push("alice"));
    void bob.changed.then(() => woken.push("bob"));

    signals.announce("alice");
    signals.announce("alice");
    await new Promise((resolve) => setImmediate(resolve));
    expect(woken).toEqual(["alice"]);
    bob.cancel();
  });

  it("when a waiter was taken before the announcement, then it is not lost while the reader was busy", async () => {
    const signals = new FeedSignals();
    const waiter = signals.next("carol");
    signals.announce("carol"); // arrives while the reader is still querying
    await expect(waiter.changed).resolves.toBeUndefined();
  });
});
