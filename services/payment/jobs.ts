// The payment service's periodic jobs (leased by startService: one replica runs each interval)
// and the metrics they keep: the test provider's own deliveries, kept webhooks, reconciliation.
import { Counter } from "prom-client";
import type { PeriodicJob } from "../kit/lifecycle.ts";
import type { Logger } from "../kit/log.ts";
import { registry } from "../kit/metrics.ts";
import { reconcilePayments } from "./domain/converge.ts";
import type { PaymentDeps } from "./domain/manage-payments.ts";
import { applyKeptWebhooks } from "./domain/webhooks.ts";
import type { TestProvider } from "./providers/test-provider.ts";

const reconciled = new Counter({
  name: "bazaar_payment_reconciled_total",
  help: "Payments the reconciliation job asked the provider about, by outcome (settled, unchanged, failed)",
  labelNames: ["outcome"],
  registers: [registry],
});
const keptExpired = new Counter({
  name: "bazaar_payment_kept_webhooks_expired_total",
  help: "Kept webhooks given up because their payment never appeared (left in webhook_events as EXPIRED)",
  registers: [registry],
});
const keptApplied = new Counter({
  name: "bazaar_payment_kept_webhooks_applied_total",
  help: "Kept webhooks applied once their payment appeared",
  registers: [registry],
});

export interface PaymentJobOptions {
  reconcileAfterSeconds: number;
  reconcileEveryMs: number;
  keptWebhookMaxAgeSeconds: number;
}

export function paymentJobs(deps: PaymentDeps, options: PaymentJobOptions, log: Logger): PeriodicJob[] {
  return [
    {
      name: "payment: apply kept webhooks",
      everyMs: 2_000,
      run: async () => {
        const run = await applyKeptWebhooks(deps, { maxAgeSeconds: options.keptWebhookMaxAgeSeconds });
        keptApplied.inc(run.applied);
        for (const expired of run.expired) {
          keptExpired.inc();
          log.warn(expired, "kept webhook given up: its payment never appeared");
        }
      },
    },
    {
      name: "payment: reconcile waiting payments",
      everyMs: options.reconcileEveryMs,
      run: async () => {
        const counts = await reconcilePayments(deps, {
          afterSeconds: options.reconcileAfterSeconds,
          onError: (paymentId, error) => log.warn({ err: error, paymentId }, "reconciliation failed; will retry"),
        });
        for (const [outcome, count] of Object.entries(counts)) if (count > 0) reconciled.inc({ outcome }, count);
        if (counts.settled > 0) log.info(counts, "payments reconciled");
      },
    },
  ];
}

/** The test provider's own background work: delayed confirmations and webhook deliveries. */
export function testProviderJob(provider: TestProvider, log: Logger): PeriodicJob {
  return {
    name: "payment: test provider deliveries",
    everyMs: 250,
    run: async () => {
      const run = await provider.runDue();
      if (run.failed > 0) log.warn(run, "test provider webhook deliveries failed; retrying with backoff");
    },
  };
}
