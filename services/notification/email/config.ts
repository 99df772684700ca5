// E-mail settings of the notification service. The SMTP default is the local-dev maildev that
// `npm start` runs; production points BAZAAR_NOTIFICATION_SMTP_URL at a real relay (k8s secret).
import { envReader, type Env } from "../../kit/config.ts";

export interface MailConfig {
  /** smtp:// or smtps://, credentials in the URL (user:password@host:port). */
  smtpUrl: string;
  from: string;
  /** The storefront/edge URL that relative links in mails are resolved against. */
  publicUrl: string;
  /** How often each replica looks for due mails. */
  pollMs: number;
  /** Attempts before a mail is given up as DEAD. */
  maxAttempts: number;
  /** First retry delay; doubles per attempt up to maxBackoffMs. */
  backoffMs: number;
  maxBackoffMs: number;
}

export function loadMailConfig(env: Env): MailConfig {
  const read = envReader(env);
  return {
    smtpUrl: read.url("BAZAAR_NOTIFICATION_SMTP_URL", "smtp://127.0.0.1:1025", ["smtp", "smtps"]),
    from: read.string("BAZAAR_NOTIFICATION_MAIL_FROM", "Bazaar <no-reply@bazaar.local>"),
    publicUrl: read.url("BAZAAR_PUBLIC_URL", "http://127.0.0.1:8080", ["http", "https"]),
    pollMs: read.int("BAZAAR_NOTIFICATION_MAIL_POLL_MS", 1000, { min: 50, max: 60_000 }),
    maxAttempts: read.int("BAZAAR_NOTIFICATION_MAIL_MAX_ATTEMPTS", 8, { min: 1, max: 100 }),
    backoffMs: read.int("BAZAAR_NOTIFICATION_MAIL_BACKOFF_MS", 1000, { min: 10, max: 600_000 }),
    maxBackoffMs: read.int("BAZAAR_NOTIFICATION_MAIL_MAX_BACKOFF_MS", 60_000, { min: 10, max: 3_600_000 }),
  };
}
