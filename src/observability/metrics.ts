import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry, type Metric } from "prom-client";

// Every Prometheus metric of the process, in one registry: transports count
// requests here, the store its commands, and the background workers (status
// callbacks, timers, the LiveKit bridge) their work, lag and failures. A new
// worker adds its metrics here, named as these are: the rollcall_ prefix,
// base units (seconds, bytes), counters ending in _total.
//
// One process serves one registry, whatever number of servers it starts
// (tests start several): counters only grow, so a test reads differences.

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: "rollcall_" });

// Buckets for calls answered from Redis in about a millisecond, up to the
// store's command timeout and the seconds a slow stream may take.
const latencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
// Lags of work done in the background: from a few milliseconds to minutes.
const lagBuckets = [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

type RequestLabel = "transport" | "protocol" | "method" | "code";

// Observations of one latency histogram's series, counted in plain numbers
// where they happen and handed to prom-client only when Prometheus scrapes (a
// prom-client child hashes its labels on each observe, measurable at tens of
// thousands of calls a second).
export class LatencySeries<L extends string> {
  count = 0;
  sum = 0;
  // Observations per bucket (not cumulative), the last for above every bound.
  private readonly buckets = new Float64Array(latencyBuckets.length + 1);

  constructor(
    readonly labels: Record<L, string>,
    family: LatencySeries<L>[],
  ) {
    family.push(this);
  }

  observe(seconds: number): void {
    this.count++;
    this.sum += seconds;
    let bucket = 0;
    while (bucket < latencyBuckets.length && seconds > latencyBuckets[bucket]!) bucket++;
    this.buckets[bucket]!++;
  }

  // Cumulative counts per upper bound, as Prometheus' buckets are.
  cumulative(): number[] {
    let total = 0;
    return latencyBuckets.map((_, i) => (total += this.buckets[i]!));
  }
}

// A histogram of the given series, registered as prom-client's registry
// formats a histogram's values.
function latencyHistogram<L extends string>(name: string, help: string, family: LatencySeries<L>[]) {
  const histogram = {
    name,
    help,
    type: "histogram" as const,
    aggregator: "sum" as const,
    get() {
      const values = family.flatMap((series) => [
        ...series
          .cumulative()
          .map((value, i) => ({ labels: { ...series.labels, le: latencyBuckets[i]! }, value, metricName: `${name}_bucket` })),
        { labels: { ...series.labels, le: "+Inf" }, value: series.count, metricName: `${name}_bucket` },
        { labels: series.labels, value: series.sum, metricName: `${name}_sum` },
        { labels: series.labels, value: series.count, metricName: `${name}_count` },
      ]);
      return Promise.resolve({ name, help, type: "histogram" as const, aggregator: "sum" as const, values });
    },
    reset() {},
  };
  registry.registerMetric(histogram as unknown as Metric);
  return histogram;
}

// The requests of each transport, protocol, method and code.
const requestSeries: LatencySeries<RequestLabel>[] = [];
const requestSeriesByLabels = new Map<string, LatencySeries<RequestLabel>>();

// The one series of these labels, whichever server of the process asks.
export function requestSeriesOf(labels: Record<RequestLabel, string>): LatencySeries<RequestLabel> {
  const key = `${labels.transport}\u0000${labels.protocol}\u0000${labels.method}\u0000${labels.code}`;
  let series = requestSeriesByLabels.get(key);
  if (series === undefined) {
    series = new LatencySeries(labels, requestSeries);
    requestSeriesByLabels.set(key, series);
  }
  return series;
}

export const requests = new Counter<RequestLabel>({
  name: "rollcall_requests_total",
  help: "Requests and RPCs answered, by transport, protocol, method (RPC path or REST route) and code (RPC code, or HTTP status)",
  labelNames: ["transport", "protocol", "method", "code"],
  registers: [registry],
  collect() {
    this.reset();
    for (const series of requestSeries) this.inc(series.labels, series.count);
  },
});

export const requestDuration = latencyHistogram(
  "rollcall_request_duration_seconds",
  "Time from a request's arrival to its answer (for streams, to their end)",
  requestSeries,
);

// Requests being answered now, by transport: plain numbers the call policy
// moves on every call, read when Prometheus scrapes (a gauge child would hash
// its labels twice per call).
export const inFlight: Record<string, number> = {};

export const requestsInFlight = new Gauge<"transport">({
  name: "rollcall_requests_in_flight",
  help: "Requests and RPCs being answered now, streams included",
  labelNames: ["transport"],
  registers: [registry],
  collect() {
    for (const [transport, count] of Object.entries(inFlight)) this.set({ transport }, count);
  },
});

export const streamsOpen = new Gauge<"transport" | "method">({
  name: "rollcall_streams_open",
  help: "Streaming RPCs open now (Watch, streamed listings, health Watch, reflection)",
  labelNames: ["transport", "method"],
  registers: [registry],
});

// Store operations against Redis, timed where the store runs them.
export const storeOperationSeries: LatencySeries<never>[] = [];
export const storeOperation = new LatencySeries<never>({}, storeOperationSeries);

latencyHistogram(
  "rollcall_store_operation_duration_seconds",
  "Time of each Redis store operation: one script or command (a pipeline for a few), retried cluster redirections included",
  storeOperationSeries,
);

export const storeErrors = new Counter<"kind">({
  name: "rollcall_store_errors_total",
  help: "Store operations that failed: unavailable (no connection, timeout, transient reply), redirected (cluster slot moved, retried), other",
  labelNames: ["kind"],
  registers: [registry],
});

export const storeConnected = new Gauge({
  name: "rollcall_store_connected",
  help: "1 while the Redis connection is ready, 0 while it is lost (the in-memory store is always 1)",
  registers: [registry],
});

export const healthServing = new Gauge({
  name: "rollcall_health_serving",
  help: "1 while the health check reports SERVING (the store answers a ping), else 0",
  registers: [registry],
});

export const callbacksDelivered = new Counter({
  name: "rollcall_callbacks_delivered_total",
  help: "Status callbacks answered with a 2xx by their receiver",
  registers: [registry],
});

export const callbacksFailed = new Counter<"outcome">({
  name: "rollcall_callbacks_failed_total",
  help: "Status callback attempts that failed: retry (will be tried again) or dead_letter (given up)",
  labelNames: ["outcome"],
  registers: [registry],
});

export const callbackLag = new Histogram({
  name: "rollcall_callback_lag_seconds",
  help: "Time from a change to the delivery of its status callback",
  buckets: lagBuckets,
  registers: [registry],
});

export const timersFired = new Counter({
  name: "rollcall_timers_fired_total",
  help: "Room and participant timers fired (empty-room, unused-room, max duration)",
  registers: [registry],
});

export const timerFailures = new Counter({
  name: "rollcall_timer_failures_total",
  help: "Timers that failed to fire and wait for the next sweep",
  registers: [registry],
});

export const timerLag = new Histogram({
  name: "rollcall_timer_lag_seconds",
  help: "How late after its deadline a timer fired",
  buckets: lagBuckets,
  registers: [registry],
});

export const watchStreamsOpen = new Gauge({
  name: "rollcall_watch_streams_open",
  help: "EventService.Watch streams open now, on every transport",
  registers: [registry],
});

export const liveKitFailures = new Counter<"kind">({
  name: "rollcall_livekit_failures_total",
  help: "LiveKit bridge failures: webhook (an event not mirrored), reconcile (a pass that failed), control (a kick or completion not sent to LiveKit)",
  labelNames: ["kind"],
  registers: [registry],
});

export const authFailures = new Counter<"outcome">({
  name: "rollcall_auth_failures_total",
  help: "Calls refused at authentication: credentials (wrong or missing, 401) or throttled (too many failures, 429)",
  labelNames: ["outcome"],
  registers: [registry],
});

export const connectionsRefused = new Counter<"reason">({
  name: "rollcall_connections_refused_total",
  help: "Connections ended for their client's address: connection_rate (too many new connections) or reset_rate (too many cancelled streams)",
  labelNames: ["reason"],
  registers: [registry],
});

// The text Prometheus scrapes.
export function metricsText(): Promise<string> {
  return registry.metrics();
}

export const metricsContentType = registry.contentType;
