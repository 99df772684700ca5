// The life of a service process: listen at once (health NOT_SERVING), bring up the database and
// NATS with retries, start relay and consumers, report SERVING; on SIGTERM/SIGINT report
// NOT_SERVING, drain calls, stop consumers and relay, close NATS and the pool, all within 10 s.
import { flushCompileCache } from "node:module";
import { hostname } from "node:os";
import type { Kysely } from "kysely";
import type { Migration } from "kysely/migration";
import { createDb, ensureDatabase, isConnectionError, migrateToLatest, observePool, pingDb } from "./db.ts";
import { observeConsumerLag, type DurableConsumer, type RunningConsumer } from "./consumer.ts";
import type { EventTables } from "./events.ts";
import { observeOutboxBacklog, startOutboxRelay, type OutboxRelay } from "./outbox-relay.ts";
import { accessRules, createAuthHook, DenyList, type AccessRule, type TokenVerifier } from "./auth.ts";
import { createDeadLetterService, observeDeadLetters } from "./dead-letters.ts";
import { createMeshClient } from "./clients.ts";
import { createHealth, ServingStatus } from "./health.ts";
import { followDeactivations, remoteTokenVerifier, serviceTokenSource, type ServiceTokenSource } from "./identity.ts";
import { claimJobTick, type JobLeaseTables } from "./job-leases.ts";
import { createLogger, type Logger } from "./log.ts";
import { serveMetrics } from "./metrics.ts";
import { connectNats, type NatsHandles } from "./nats.ts";
import { createReflection } from "./reflection.ts";
import { retry } from "./retry.ts";
import { bind, serve, type ServiceBinding } from "./serve.ts";
import { startTracing } from "./tracing.ts";
import { AuthService, ServiceIdentityService } from "../../gen/bazaar/auth/v1/auth_pb.ts";
import { DeadLetterService } from "../../gen/bazaar/events/v1/dead_letters_pb.ts";
import { Health } from "../../gen/grpc/health/v1/health_pb.ts";
import { ServerReflection } from "../../gen/grpc/reflection/v1/reflection_pb.ts";
import type { ServiceName, ServiceBaseConfig } from "./config.ts";

/**
 * Work repeated every `everyMs`, never overlapping itself, by one replica of the service per
 * interval; failures are logged and retried.
 */
export interface PeriodicJob {
  name: string;
  everyMs: number;
  run(): Promise<unknown>;
  /**
   * How long one run may take before the next tick goes ahead without it (default 10 ticks,
   * at least 30 s): a call that never answers must not stop the job for good.
   */
  overrunMs?: number;
}

/** Wakes the relay after a commit; safe to call before the relay runs. */
export interface OutboxNotifier {
  wake(): void;
}

export interface ServiceRuntime<DB> {
  db: Kysely<DB>;
  log: Logger;
  outbox: OutboxNotifier;
  /** This service's identity for calling internal RPCs of others. */
  serviceToken: ServiceTokenSource;
}

export interface ServiceSpec<DB extends EventTables> {
  name: ServiceName;
  config: ServiceBaseConfig;
  migrations: Record<string, Migration>;
  services(runtime: ServiceRuntime<DB>): ServiceBinding[];
  /** Who may call each RPC served (accessRules per service, merged). */
  rules: Map<string, AccessRule>[];
  /** Verifies access tokens; by default against auth's JWKS over gRPC. */
  verifier?: TokenVerifier;
  consumers?(runtime: ServiceRuntime<DB> & { nats: NatsHandles }): Promise<RunningConsumer>[];
  /** Called once the database is migrated, before SERVING (e.g. seed data or warm caches). */
  onReady?(runtime: ServiceRuntime<DB>): Promise<void>;
  /** Periodic jobs, started when serving and stopped before the database closes. */
  jobs?(runtime: ServiceRuntime<DB>): PeriodicJob[];
}

export interface RunningService {
  port: number;
  /** Resolves once the database and NATS are up and health says SERVING. */
  ready: Promise<void>;
  stop(): Promise<void>;
}

export async function startService<DB extends EventTables>(spec: ServiceSpec<DB>): Promise<RunningService> {
  const { config } = spec;
  const log = createLogger(spec.name, config.logLevel);
  // Before the database: its statement spans are set up when it is made.
  const tracing = await startTracing(`bazaar-${spec.name}`, config.tracing, log);
  const metrics = await serveMetrics(config.metricsAddress, log);
  const db = createDb<DB>({ url: config.mysqlUrl, database: config.database });
  const observed = [observePool(db)];
  let relay: OutboxRelay | undefined;
  const outbox: OutboxNotifier = { wake: () => relay?.wake() };
  const auth = createMeshClient(AuthService, config.authAddress);
  const identity = createMeshClient(ServiceIdentityService, config.authAddress);
  const serviceToken = serviceTokenSource(identity.client, spec.name, config.serviceSecret);
  const runtime: ServiceRuntime<DB> = { db, log, outbox, serviceToken };

  let consumers: RunningConsumer[] = [];
  const durableConsumers = () => consumers.filter((c): c is DurableConsumer => "redrive" in c);
  const bindings = [
    ...spec.services(runtime),
    bind(DeadLetterService, createDeadLetterService(db as unknown as Kysely<EventTables>, durableConsumers)),
  ];
  const health = createHealth(bindings.map((b) => b.service.typeName));
  const reflection = createReflection([...bindings, health.binding].map((b) => b.service));
  const denyList = new DenyList();
  const rules = new Map([
    ...spec.rules.flatMap((r) => [...r]),
    ...accessRules(DeadLetterService, { listDeadLetters: "service", redriveDeadLetter: "service" }),
    ...publicRules(Health),
    ...publicRules(ServerReflection),
  ]);
  const authHook = createAuthHook({ verifier: spec.verifier ?? remoteTokenVerifier(auth.client), rules, denyList });
  const server = await serve({
    address: config.listenAddress,
    services: [...bindings, health.binding, reflection],
    log,
    hooks: [authHook],
  });
  log.info({ port: server.port }, "listening (not serving until database and NATS are up)");

  let stopping = false;
  let nats: NatsHandles | undefined;
  let deactivations: { stop(): Promise<void> } | undefined;
  let jobs: Array<{ stop(): Promise<void> }> = [];
  let monitor: NodeJS.Timeout | undefined;

  const ready = (async () => {
    await retry(
      log,
      "database",
      () => ensureDatabase(config.mysqlUrl, config.database),
      isConnectionError,
      () => stopping,
    );
    // A failing migration is a bug, not an outage: it stops the start instead of retrying.
    const applied = await migrateToLatest(db as Kysely<unknown>, spec.migrations);
    if (applied.length > 0) log.info({ applied }, "migrations applied");
    const connect = () => connectNats(config.natsUrl, `bazaar-${spec.name}`, config.natsStreamReplicas);
    nats = await retry(
      log,
      "nats",
      connect,
      () => true,
      () => stopping,
    );
    relay = startOutboxRelay({ db: db as unknown as Kysely<EventTables>, js: nats.js, log });
    const lookbackMs = (config.accessTokenTtlSeconds + 60) * 1000;
    deactivations = await followDeactivations({ js: nats.js, denyList, lookbackMs, log });
    consumers = await Promise.all(spec.consumers?.({ ...runtime, nats }) ?? []);
    const eventTables = db as unknown as Kysely<EventTables>;
    observed.push(
      observeOutboxBacklog(eventTables, config.database),
      observeDeadLetters(eventTables, () => durableConsumers().map((c) => c.name)),
      observeConsumerLag(durableConsumers),
    );
    await spec.onReady?.(runtime);
    jobs = (spec.jobs?.(runtime) ?? []).map((job) => startJob(job, db as unknown as Kysely<JobLeaseTables>, log));
    health.setAll(ServingStatus.SERVING);
    log.info("serving");
    // Every module is loaded: the next start reads them compiled (deploy/node-options.ts), even
    // if this process is killed rather than stopped (Node writes the cache only at exit).
    flushCompileCache();
    monitor = setInterval(async () => {
      const healthy = (await pingDb(db as Kysely<unknown>)) && !nats!.nc.isClosed();
      health.setAll(healthy && !stopping ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);
    }, 5_000);
    monitor.unref();
  })();

  const stop = async () => {
    if (stopping) return;
    stopping = true;
    health.setAll(ServingStatus.NOT_SERVING);
    clearInterval(monitor);
    await server.close(7_000);
    await Promise.all(jobs.map((job) => job.stop()));
    await Promise.all(consumers.map((c) => c.stop()));
    await deactivations?.stop();
    await relay?.stop();
    await nats?.nc.drain().catch(() => undefined);
    await db.destroy();
    auth.close();
    identity.close();
    for (const unobserve of observed) unobserve();
    await metrics.close();
    // Last, so the spans of the drain are sent too.
    await tracing.stop();
    log.info("stopped");
  };
  return { port: server.port, ready, stop };
}

/** Runs a started service until SIGTERM/SIGINT, then stops it; exits non-zero if that takes > 10 s. */
export function runUntilSignalled(service: Promise<RunningService>, log: Logger): void {
  service.then(
    (running) => {
      running.ready.catch((error) => {
        log.fatal({ err: error }, "start failed");
        process.exit(1);
      });
      onShutdownSignal(log, () => running.stop());
    },
    (error) => {
      log.fatal({ err: error }, "start failed");
      process.exit(1);
    },
  );
}

/**
 * Calls `stop` on the first SIGTERM or SIGINT and exits 0 when it is done, 1 if it takes more
 * than 10 s. Later signals are ignored: Ctrl-C reaches every process of the terminal's group
 * and the launcher sends SIGTERM as well, and a second default-handled signal would kill the
 * process in the middle of draining.
 */
export function onShutdownSignal(log: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    setTimeout(() => process.exit(1), 10_000).unref();
    stop().then(
      () => process.exit(0),
      (error) => {
        log.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
}

/** Ticks every `everyMs` on every replica; the job runs on the one replica that claims the tick. */
export function startJob(job: PeriodicJob, db: Kysely<JobLeaseTables>, log: Logger): { stop(): Promise<void> } {
  const holder = `${hostname()}:${process.pid}`;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();
  const overrunMs = job.overrunMs ?? Math.max(30_000, job.everyMs * 10);
  const tick = () => {
    // The claim too: a query that never returns would end the job as surely as a run that hangs
    // (the chaos run's mail job fell silent for good around a MariaDB restart).
    running = withinOverrun(
      claimJobTick(db, job.name, job.everyMs, holder).then((claimed) => claimed && job.run()),
      overrunMs,
    )
      .catch((error) => log.warn({ err: error, job: job.name }, "job failed; will retry"))
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, job.everyMs);
      });
  };
  timer = setTimeout(tick, job.everyMs);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}

/** The run, or an error once it took longer than `overrunMs` (the run itself goes on unwatched). */
function withinOverrun(run: Promise<unknown>, overrunMs: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const overrun = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`run still going after ${overrunMs} ms; the next tick starts`)),
      overrunMs,
    );
  });
  return Promise.race([run, overrun]).finally(() => clearTimeout(timer));
}

/** Health checks and reflection answer anyone, as probes and tools expect. */
function publicRules(service: typeof Health | typeof ServerReflection): Map<string, AccessRule> {
  return new Map(service.methods.map((method) => [`${service.typeName}/${method.name}`, "public" as const]));
}
