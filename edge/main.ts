// Wiring only: config → backends → HTTP server; graceful stop on SIGTERM/SIGINT.
import { loadConfigOrExit } from "../services/kit/config.ts";
import { createLogger } from "../services/kit/log.ts";
import { createEdgeApp } from "./app.ts";
import { loadEdgeConfig } from "./config.ts";
import { listenHttp } from "./server.ts";

const config = loadConfigOrExit(() => loadEdgeConfig(process.env));
const log = createLogger("edge", config.logLevel);
const app = createEdgeApp(config, log);
const server = await listenHttp(config.address, app.handler);
log.info({ port: server.port, backends: config.backends }, "edge listening");

const shutdown = (signal: string) => {
  log.info({ signal }, "shutting down");
  setTimeout(() => process.exit(1), 10_000).unref();
  server.close().then(() => {
    app.close();
    process.exit(0);
  });
};
process.once("SIGTERM", shutdown);
process.once("SIGINT", shutdown);
