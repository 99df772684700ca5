// A real SMTP server for tests (smtp-server + mailparser) on a free 127.0.0.1 port: it keeps
// every mail it accepts, parsed. stop() closes the port and cuts open connections (senders see
// the connection drop, then connection refused) and restart() opens the same port again, for
// retry tests. Recipients matched by `reject` get a permanent 550, as a relay answers for an
// address that does not exist.
import type { AddressInfo } from "node:net";
import { simpleParser, type ParsedMail } from "mailparser";
import { SMTPServer } from "smtp-server";

export interface Mailbox {
  smtpUrl: string;
  messages(): Promise<ParsedMail[]>;
  /** SMTP connections opened so far. */
  connections(): number;
  waitFor(predicate: (mail: ParsedMail) => boolean, timeoutMs?: number): Promise<ParsedMail>;
  stop(): Promise<void>;
  restart(): Promise<void>;
}

export interface MailboxOptions {
  reject?: (address: string) => boolean;
}

/**
 * How long stop() lets open connections finish before it cuts them (smtp-server waits 30 s): the
 * notification service's pooled sender keeps its connection open between mails, and a relay that
 * goes away drops it too.
 */
const closeTimeoutMs = 100;

export async function startMailbox(options: MailboxOptions = {}): Promise<Mailbox> {
  const parsed: ParsedMail[] = [];
  let connections = 0;
  const waiters = new Set<() => void>();
  const create = () =>
    new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS"],
      logger: false,
      closeTimeout: closeTimeoutMs,
      onConnect(_session, callback) {
        connections++;
        callback();
      },
      onRcptTo(address, _session, callback) {
        if (options.reject?.(address.address)) {
          const error = Object.assign(new Error(`5.1.1 <${address.address}>: no such user`), { responseCode: 550 });
          callback(error);
          return;
        }
        callback();
      },
      onData(stream, _session, callback) {
        simpleParser(stream).then(
          (mail) => {
            // Read while stop() cut the connection: refused, as its sender sees the cut and sends
            // it again.
            if (!running) {
              callback(Object.assign(new Error("4.3.2 shutting down"), { responseCode: 421 }));
              return;
            }
            parsed.push(mail);
            for (const wake of waiters) wake();
            callback();
          },
          (error: Error) => callback(error),
        );
      },
    });
  let server = create();
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve((server.server.address() as AddressInfo).port));
    });
  const close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  const port = await listen(0);
  let running = true;

  return {
    smtpUrl: `smtp://127.0.0.1:${port}`,
    messages: async () => [...parsed],
    connections: () => connections,
    waitFor(predicate, timeoutMs = 15_000) {
      return new Promise<ParsedMail>((resolve, reject) => {
        const check = () => {
          const found = parsed.find(predicate);
          if (!found) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(found);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching mail within ${timeoutMs} ms (${parsed.length} received)`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    async stop() {
      if (!running) return;
      running = false;
      await close();
    },
    async restart() {
      if (running) await close();
      server = create();
      await listen(port);
      running = true;
    },
  };
}
