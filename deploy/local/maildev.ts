// LOCAL DEV ONLY: maildev catches every mail the notification service sends under `npm start`
// and shows it in a web inbox. Production points BAZAAR_NOTIFICATION_SMTP_URL at a real relay.
import { createServer } from "node:net";
import { MailDev } from "maildev";

export interface RunningMaildev {
  smtpUrl: string;
  webUrl: string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export async function startMaildev(): Promise<RunningMaildev> {
  const [smtp, web] = [await freePort(), await freePort()];
  const maildev = new MailDev({ smtp, web, ip: "127.0.0.1", webIp: "127.0.0.1", silent: true });
  await maildev.start();
  return {
    smtpUrl: `smtp://127.0.0.1:${smtp}`,
    webUrl: `http://127.0.0.1:${web}/`,
    stop: () => maildev.stop(),
  };
}
