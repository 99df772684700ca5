// Bytes straight onto a TCP connection, below any HTTP client's checks: whatever comes back
// until the server closes the connection, within a time limit.
import { connect } from "node:net";

export interface SocketExchange {
  /** The first bytes the server answered with (at most 64 KiB). */
  reply: Buffer;
  /** Whether the server closed the connection within the limit. */
  closed: boolean;
  ms: number;
}

export function sendRawBytes(
  host: string,
  port: number,
  bytes: Buffer,
  closeWithinMs: number,
): Promise<SocketExchange> {
  const started = performance.now();
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const socket = connect({ host, port });
    const settle = (closed: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ reply: Buffer.concat(chunks), closed, ms: performance.now() - started });
    };
    const timer = setTimeout(() => settle(false), closeWithinMs);
    socket.on("data", (chunk: Buffer) => {
      if (size < 64 * 1024) chunks.push(chunk);
      size += chunk.length;
    });
    socket.on("close", () => settle(true));
    // The server may hang up while bytes are still being written: that is an answer too.
    socket.on("error", () => settle(true));
    // Half-close after the bytes: a server waiting for more has nothing left to wait for.
    socket.end(bytes);
  });
}
