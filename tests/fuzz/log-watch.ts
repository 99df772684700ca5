// The mesh's log lines as launchMesh prefixes them ("[edge   ] error rpc failed err=… requestId=…"),
// kept when they report a failure: error and fatal lines, which is where the services' "rpc
// failed" and the edge's "request failed in the edge" go — the trace of a handler that threw
// something other than a ConnectError, even when the client only saw a plain message — and any
// line that is not a log record at all (a library's console.error, a stack trace, a warning).
import { Writable } from "node:stream";

export interface FailureLine {
  process: string;
  line: string;
}

const linePattern = /^\[(\S+)\s*\] (.*)$/;
const levels = /^(trace|debug|info|warn|error|fatal) /;
const failureLevels = /^(error|fatal) /;

export class LogWatch extends Writable {
  readonly #failures: FailureLine[] = [];
  /** Passes every line on as well (the CLI's --verbose). */
  readonly #echo: NodeJS.WritableStream | undefined;

  constructor(echo?: NodeJS.WritableStream) {
    super();
    this.#echo = echo;
  }

  override _write(chunk: Buffer | string, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    const text = String(chunk);
    this.#echo?.write(text);
    for (const line of text.split("\n")) {
      const match = linePattern.exec(line);
      if (!match) continue;
      const record = match[2]!;
      if (failureLevels.test(record) || !levels.test(record))
        this.#failures.push({ process: match[1]!, line: record.slice(0, 2_000) });
    }
    done();
  }

  /** Failure lines logged since the last call. */
  takeFailures(): FailureLine[] {
    return this.#failures.splice(0);
  }
}
