// Wiring only: config → tracing and metrics → backends → HTTP server; graceful stop on
// SIGTERM/SIGINT.
import { flushCompileCache } from "node:module";
import { loadConfigOrExit } from "../services/kit/config.ts";
import { onShutdownSignal } from "../services/kit/lifecycle.ts";
import { createLogger } from "../services/kit/log.ts";
import { serveMetrics } from "../services/kit/metrics.ts";
import { startTracing } from "../services/kit/tracing.ts";
import { createEdgeApp } from "./app.ts";
import { loadEdgeConfig } from "./config.ts";
import { listenHttp } from "./server.ts";

const config = loadConfigOrExit(() => loadEdgeConfig(process.env));
const log = createLogger("edge", config.logLevel);
const tracing = await startTracing("bazaar-edge", config.tracing, log);
const metrics = await serveMetrics(config.metricsAddress, log);
const app = await createEdgeApp(config, log);
const server = await listenHttp(config.address, app.handler);
log.info({ port: server.port, metricsPort: metrics.port, backends: config.backends }, "edge listening");
// As the services do once serving (services/kit/lifecycle.ts): the next start reads them compiled.
flushCompileCache();

onShutdownSignal(log, async () => {
  await server.close();
  await app.close();
  await metrics.close();
  // Last, so the spans of the requests drained are sent too.
  await tracing.stop();
});
