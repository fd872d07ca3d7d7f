import { parseAllowList } from "./callbacks/target-policy.js";

// Settings, read once from the environment at start. A bad value stops the
// server with a message naming the variable.

export interface Config {
  port: number;
  // A second port serving gRPC alone, through @grpc/grpc-js; undefined for none.
  grpcPort: number | undefined;
  host: string;
  redisUrl: string | undefined;
  // REDIS_CLUSTER_NODES: host:port seeds of a Redis Cluster; the client
  // discovers the other nodes from them.
  redisClusterNodes: string[] | undefined;
  // ROLLCALL_CREDENTIALS_FILE; without it, development credentials are made at start.
  credentialsFile: string | undefined;
  // Base of the absolute URLs in REST responses, e.g. https://video.example.com.
  publicUrl: string | undefined;
  maxParticipants: number;
  maxRequestBytes: number;
  redisCommandTimeoutMs: number;
  shutdownGraceMs: number;
  // The change log keeps the events of the last this many hours...
  eventRetentionHours: number;
  // ...or the last this many of each room, whichever keeps more.
  eventRetentionPerRoom: number;
  // An idle Watch stream receives a message with no events this often.
  watchKeepAliveMs: number;
  // Every room ends at the latest this many hours after its creation.
  maxRoomHours: number;
  // ROLLCALL_TIMERS=off: this instance fires no timers (others do).
  timersEnabled: boolean;
  // How often the timer sweeper looks for due timers.
  timerIntervalMs: number;
  // ROLLCALL_CALLBACKS=off: this instance delivers no status callbacks (others do).
  callbacksEnabled: boolean;
  // Status callbacks. ROLLCALL_CALLBACK_RETRY_FOR: how long an event is
  // retried before it is given up (a duration: 3600, 90s, 15m, 1h, 500ms;
  // a bare number is seconds).
  callbackRetryForMs: number;
  // ROLLCALL_CALLBACK_ALLOW: CIDRs, addresses and host names callbacks may go
  // to; empty for any host that is not link-local.
  callbackAllow: string[];
  // Each attempt's bound, all told (Twilio's #tt= may shorten it).
  callbackTimeoutMs: number;
  // The first retry's delay, doubling to at most callbackBackoffMaxMs, with jitter.
  callbackBackoffMs: number;
  callbackBackoffMaxMs: number;
  // The lease on a shard of an account's callbacks, renewed every third of it.
  callbackLeaseMs: number;
  // How often each held shard is checked for retries due, besides the prompt
  // signal of its log.
  callbackPollMs: number;
  // The most callbacks in flight at once in this instance.
  callbackConcurrency: number;
  // The LiveKit bridge (src/livekit), off when LIVEKIT_URL is unset.
  liveKit: LiveKitConfig | undefined;
  // ROLLCALL_LOG_LEVEL: pino's level names; silent for no logs.
  logLevel: string;
  // ROLLCALL_LOG_FORMAT: JSON lines, or pino-pretty's for people.
  logFormat: "json" | "pretty";
  // ROLLCALL_METRICS=off: no /metrics and nothing counted per request.
  metricsEnabled: boolean;
  // ROLLCALL_METRICS_PORT: /metrics on this port instead of the main one.
  metricsPort: number | undefined;
}

export interface LiveKitConfig {
  // LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET: LiveKit's own names.
  url: string;
  apiKey: string;
  apiSecret: string;
  // ROLLCALL_LIVEKIT_ACCOUNT_SID: the account that owns the LiveKit rooms;
  // unset for the credentials' only account.
  accountSid: string | undefined;
  // How often LiveKit's rooms and participants are listed to repair what
  // missed webhooks left wrong.
  reconcileMs: number;
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

export function configFromEnv(env: NodeJS.ProcessEnv): Config {
  if (env.REDIS_URL && env.REDIS_CLUSTER_NODES) {
    throw new ConfigError(
      "REDIS_URL and REDIS_CLUSTER_NODES are both set; set REDIS_URL for one Redis server or REDIS_CLUSTER_NODES for a Redis Cluster",
    );
  }
  return {
    port: integer(env, "PORT", 8080, 0, 65535),
    grpcPort: env.GRPC_PORT === "off" ? undefined : integer(env, "GRPC_PORT", 50051, 0, 65535),
    host: env.HOST || "127.0.0.1",
    redisUrl: env.REDIS_URL || undefined,
    redisClusterNodes: clusterNodes(env),
    credentialsFile: env.ROLLCALL_CREDENTIALS_FILE || undefined,
    publicUrl: publicUrl(env),
    maxParticipants: integer(env, "ROLLCALL_MAX_PARTICIPANTS", 50, 1, 1_000_000),
    maxRequestBytes: integer(env, "ROLLCALL_MAX_REQUEST_BYTES", 256 * 1024, 1024, 64 * 1024 * 1024),
    redisCommandTimeoutMs: integer(env, "ROLLCALL_REDIS_TIMEOUT_MS", 2000, 10, 600_000),
    shutdownGraceMs: integer(env, "ROLLCALL_SHUTDOWN_GRACE_MS", 10_000, 0, 600_000),
    eventRetentionHours: integer(env, "ROLLCALL_EVENT_RETENTION_HOURS", 24, 1, 24 * 365),
    eventRetentionPerRoom: integer(env, "ROLLCALL_EVENT_RETENTION_PER_ROOM", 10_000, 1, 10_000_000),
    watchKeepAliveMs: integer(env, "ROLLCALL_WATCH_KEEPALIVE_MS", 15_000, 10, 600_000),
    maxRoomHours: integer(env, "ROLLCALL_MAX_ROOM_HOURS", 24, 1, 24 * 365),
    timersEnabled: onOff(env, "ROLLCALL_TIMERS", true),
    timerIntervalMs: integer(env, "ROLLCALL_TIMER_INTERVAL_MS", 250, 10, 60_000),
    callbacksEnabled: onOff(env, "ROLLCALL_CALLBACKS", true),
    callbackRetryForMs: duration(env, "ROLLCALL_CALLBACK_RETRY_FOR", 3_600_000),
    callbackAllow: allowList(env),
    callbackTimeoutMs: integer(env, "ROLLCALL_CALLBACK_TIMEOUT_MS", 15_000, 10, 15_000),
    callbackBackoffMs: integer(env, "ROLLCALL_CALLBACK_BACKOFF_MS", 1000, 1, 600_000),
    callbackBackoffMaxMs: integer(env, "ROLLCALL_CALLBACK_BACKOFF_MAX_MS", 30_000, 1, 3_600_000),
    callbackLeaseMs: integer(env, "ROLLCALL_CALLBACK_LEASE_MS", 10_000, 100, 600_000),
    callbackPollMs: integer(env, "ROLLCALL_CALLBACK_POLL_MS", 1000, 10, 600_000),
    callbackConcurrency: integer(env, "ROLLCALL_CALLBACK_CONCURRENCY", 64, 1, 10_000),
    liveKit: liveKit(env),
    logLevel: oneOf(env, "ROLLCALL_LOG_LEVEL", logLevels, "info"),
    logFormat: oneOf(env, "ROLLCALL_LOG_FORMAT", ["json", "pretty"] as const, "json"),
    metricsEnabled: onOff(env, "ROLLCALL_METRICS", true),
    metricsPort: env.ROLLCALL_METRICS_PORT ? integer(env, "ROLLCALL_METRICS_PORT", 0, 0, 65535) : undefined,
  };
}

const logLevels = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;

function oneOf<T extends string>(env: NodeJS.ProcessEnv, name: string, values: readonly T[], fallback: T): T {
  const text = env[name];
  if (text === undefined || text === "") return fallback;
  if ((values as readonly string[]).includes(text)) return text as T;
  throw new ConfigError(`${name} must be one of ${values.join(", ")}, got ${JSON.stringify(text)}`);
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const text = env[name];
  if (text === undefined || text === "") return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(text)}`);
  }
  return value;
}

function onOff(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const text = env[name];
  if (text === undefined || text === "") return fallback;
  if (text === "on" || text === "off") return text === "on";
  throw new ConfigError(`${name} must be on or off, got ${JSON.stringify(text)}`);
}

const durationUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

// A duration: a whole number with an optional unit (ms, s, m, h); seconds without one.
function duration(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const text = env[name];
  if (text === undefined || text === "") return fallback;
  const match = /^(\d{1,9})(ms|s|m|h)?$/.exec(text.trim());
  const ms = match === null ? NaN : Number(match[1]) * durationUnits[match[2] ?? "s"]!;
  if (!(ms >= 1 && ms <= 30 * 86_400_000)) {
    throw new ConfigError(
      `${name} must be a duration from 1ms to 30 days: a whole number of seconds, or one with a unit (500ms, 90s, 15m, 1h); got ${JSON.stringify(text)}`,
    );
  }
  return ms;
}

function allowList(env: NodeJS.ProcessEnv): string[] {
  const parsed = parseAllowList(env.ROLLCALL_CALLBACK_ALLOW ?? "");
  if ("error" in parsed)
    throw new ConfigError(`ROLLCALL_CALLBACK_ALLOW must be comma-separated CIDRs, addresses and host names: ${parsed.error}`);
  return parsed;
}

function clusterNodes(env: NodeJS.ProcessEnv): string[] | undefined {
  const text = env.REDIS_CLUSTER_NODES;
  if (text === undefined || text === "") return undefined;
  const nodes = text.split(",").map((node) => node.trim());
  for (const node of nodes) {
    const match = /^(?:\[[0-9A-Fa-f:.]+\]|[^\s:/[\]]+):(\d{1,5})$/.exec(node);
    if (match === null || Number(match[1]) < 1 || Number(match[1]) > 65535) {
      throw new ConfigError(
        `REDIS_CLUSTER_NODES must be comma-separated host:port seeds, e.g. 10.0.0.1:7000,10.0.0.2:7000; got ${JSON.stringify(node)} in ${JSON.stringify(text)}`,
      );
    }
  }
  return nodes;
}

function publicUrl(env: NodeJS.ProcessEnv): string | undefined {
  const text = env.PUBLIC_URL;
  if (text === undefined || text === "") return undefined;
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:") || url.search !== "" || url.hash !== "") {
    throw new ConfigError(`PUBLIC_URL must be an absolute http or https URL without query or fragment, got ${JSON.stringify(text)}`);
  }
  return text.replace(/\/+$/, "");
}

function liveKit(env: NodeJS.ProcessEnv): LiveKitConfig | undefined {
  const url = env.LIVEKIT_URL;
  if (url === undefined || url === "") {
    for (const name of ["LIVEKIT_API_KEY", "LIVEKIT_API_SECRET", "ROLLCALL_LIVEKIT_ACCOUNT_SID"]) {
      if (env[name]) throw new ConfigError(`${name} is set without LIVEKIT_URL; set LIVEKIT_URL to bridge LiveKit, or unset ${name}`);
    }
    return undefined;
  }
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || !["http:", "https:", "ws:", "wss:"].includes(parsed.protocol)) {
    throw new ConfigError(`LIVEKIT_URL must be an absolute http, https, ws or wss URL, got ${JSON.stringify(url)}`);
  }
  const apiKey = env.LIVEKIT_API_KEY ?? "";
  const apiSecret = env.LIVEKIT_API_SECRET ?? "";
  if (apiKey === "" || apiSecret === "")
    throw new ConfigError("LIVEKIT_URL is set: LIVEKIT_API_KEY and LIVEKIT_API_SECRET must be set too");
  const accountSid = env.ROLLCALL_LIVEKIT_ACCOUNT_SID || undefined;
  if (accountSid !== undefined && !/^AC[0-9a-fA-F]{32}$/.test(accountSid)) {
    throw new ConfigError(`ROLLCALL_LIVEKIT_ACCOUNT_SID must be "AC" and 32 hex digits, got ${JSON.stringify(accountSid)}`);
  }
  return { url, apiKey, apiSecret, accountSid, reconcileMs: integer(env, "ROLLCALL_LIVEKIT_RECONCILE_SECONDS", 60, 1, 86_400) * 1000 };
}
