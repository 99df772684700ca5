// followStream: what it watches again after a break, and when it stops.
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { followStream } from "./watch.ts";

interface Update {
  resumeToken: string;
}

/** A stream per watch: each item an update's token, or an error to break with. */
function streams(...watches: Array<Array<string | ConnectError>>) {
  const opened: string[] = [];
  const open = (resumeToken: string) => {
    opened.push(resumeToken);
    const items = watches.shift() ?? [];
    return (async function* (): AsyncGenerator<Update> {
      for (const item of items) {
        if (item instanceof ConnectError) throw item;
        yield { resumeToken: item };
      }
      // The last scripted watch stays open until the loop is left.
      if (watches.length === 0) await new Promise(() => {});
    })();
  };
  return { open, opened };
}

async function take(updates: AsyncIterable<Update>, count: number): Promise<string[]> {
  const seen: string[] = [];
  for await (const update of updates) {
    seen.push(update.resumeToken);
    if (seen.length === count) break;
  }
  return seen;
}

describe("followStream", () => {
  it("when the stream breaks, then it watches again from the last update's resume token", async () => {
    const { open, opened } = streams(["a", "b", new ConnectError("restart", Code.Unavailable)], ["c"]);
    const seen = await take(followStream(open, { resumeToken: "list", reconnectDelayMs: 1 }), 3);

    expect(seen).toEqual(["a", "b", "c"]);
    expect(opened).toEqual(["list", "b"]);
  });

  it("when the server ends the stream, then it watches again and says so", async () => {
    const breaks: Array<ConnectError | undefined> = [];
    const { open, opened } = streams(["a"], ["b"]);
    const seen = await take(followStream(open, { reconnectDelayMs: 1, onBreak: (error) => breaks.push(error) }), 2);

    expect(seen).toEqual(["a", "b"]);
    expect(opened).toEqual(["", "a"]);
    expect(breaks).toEqual([undefined]);
  });

  it("when the break is one another watch cannot mend, then the loop ends with it", async () => {
    const { open } = streams(["a", new ConnectError("not yours", Code.PermissionDenied)]);
    await expect(take(followStream(open, { reconnectDelayMs: 1 }), 5)).rejects.toMatchObject({
      code: Code.PermissionDenied,
    });
  });

  it("when the signal is aborted, then the loop ends without an error and the open stream is given its abort", async () => {
    const abort = new AbortController();
    let given: AbortSignal | undefined;
    const updates = followStream(
      (_token, signal) => {
        given = signal;
        return (async function* () {
          yield { resumeToken: "a" };
          await new Promise((resolve) => signal.addEventListener("abort", resolve));
        })();
      },
      { signal: abort.signal },
    );
    const seen: string[] = [];
    for await (const update of updates) {
      seen.push(update.resumeToken);
      abort.abort();
    }
    expect(seen).toEqual(["a"]);
    expect(given?.aborted).toBe(true);
  });
});
