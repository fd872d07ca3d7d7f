import { parseAllowList } from "./callbacks/target-policy.js";
import { redactUrl } from "./store/redis/connection.js";
import type { ConnectionLimits } from "./transports/http/connection-limits.js";

// Settings, read once from the environment at start. A bad value stops the
// server with a message naming the variable.

export interface Config {
  port: number;
  // GRPC_PORT: a second port serving gRPC alone through @grpc/grpc-js (off,
  // undefined, by default: the main port hands gRPC to grpc-js itself).
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
  // Failed authentications allowed per minute, per client address and per
  // account (or API key) sid, before calls are refused with 429.
  authFailuresPerAddressPerMinute: number;
  authFailuresPerAccountPerMinute: number;
  // What a client connection must do in time, and how fast one address may
  // open connections and cancel streams.
  connections: ConnectionLimits;
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

export interface Setting {
  // As --help shows it; undefined for unset. configFromEnv reads it as if
  // the variable held it, so the shown default is the one used.
  default: string | undefined;
  meaning: string;
  // A port to listen on: a start that finds it in use names the variable.
  port?: true;
}

// Every environment variable rollcall reads. configFromEnv reads them only
// by these names (the readers take a SettingName), and --help lists them all.
export const settings = {
  PORT: { default: "8080", meaning: "the one port for every protocol (0 picks a free one)", port: true },
  GRPC_PORT: {
    default: "off",
    meaning: "a second port serving gRPC alone through @grpc/grpc-js (the main port serves gRPC as fast); a port number turns it on",
    port: true,
  },
  HOST: { default: "127.0.0.1", meaning: "address to listen on" },
  REDIS_URL: { default: undefined, meaning: "redis://[:password@]host:port[/db] or rediss://...; unset runs the in-memory store" },
  REDIS_CLUSTER_NODES: { default: undefined, meaning: "Redis Cluster instead: comma-separated host:port seeds" },
  ROLLCALL_CREDENTIALS_FILE: { default: undefined, meaning: "accounts and API keys (JSON); unset makes development ones and prints them" },
  PUBLIC_URL: { default: undefined, meaning: "base of the absolute URLs in REST responses; unset uses the request's scheme and Host" },
  ROLLCALL_MAX_PARTICIPANTS: { default: "50", meaning: "the largest max_participants a room may ask for" },
  ROLLCALL_MAX_REQUEST_BYTES: { default: "262144", meaning: "largest request body accepted" },
  ROLLCALL_REDIS_TIMEOUT_MS: { default: "2000", meaning: "a Redis command that takes longer fails the call with unavailable" },
  ROLLCALL_SHUTDOWN_GRACE_MS: { default: "10000", meaning: "on SIGTERM/SIGINT, how long calls in flight may take" },
  ROLLCALL_EVENT_RETENTION_HOURS: { default: "24", meaning: "the change log keeps the events of this many hours..." },
  ROLLCALL_EVENT_RETENTION_PER_ROOM: { default: "10000", meaning: "...or the last this many of each room, whichever keeps more" },
  ROLLCALL_WATCH_KEEPALIVE_MS: { default: "15000", meaning: "an idle Watch stream receives a message this often" },
  ROLLCALL_MAX_ROOM_HOURS: { default: "24", meaning: "every room ends at the latest this many hours after its creation" },
  ROLLCALL_TIMERS: { default: "on", meaning: "off: this instance ends no rooms on their timers" },
  ROLLCALL_TIMER_INTERVAL_MS: { default: "250", meaning: "how often the timer sweeper looks for due timers" },
  ROLLCALL_CALLBACKS: { default: "on", meaning: "off: this instance delivers no status callbacks" },
  ROLLCALL_CALLBACK_RETRY_FOR: { default: "1h", meaning: "how long a status callback is retried (seconds, or 500ms, 90s, 15m, 1h)" },
  ROLLCALL_CALLBACK_ALLOW: {
    default: undefined,
    meaning: "CIDRs, addresses and host names callbacks may go to; unset: any not link-local",
  },
  ROLLCALL_CALLBACK_TIMEOUT_MS: { default: "15000", meaning: "the bound on each callback attempt, all told (at most 15000)" },
  ROLLCALL_CALLBACK_BACKOFF_MS: { default: "1000", meaning: "the first callback retry's delay, doubling with jitter..." },
  ROLLCALL_CALLBACK_BACKOFF_MAX_MS: { default: "30000", meaning: "...up to this" },
  ROLLCALL_CALLBACK_LEASE_MS: { default: "10000", meaning: "how long an instance's lease on a shard of callbacks lasts unless renewed" },
  ROLLCALL_CALLBACK_POLL_MS: { default: "1000", meaning: "how often each held shard is checked for retries that came due" },
  ROLLCALL_CALLBACK_CONCURRENCY: { default: "64", meaning: "the most callbacks in flight in one instance" },
  LIVEKIT_URL: { default: undefined, meaning: "the LiveKit server to bridge; with LIVEKIT_API_KEY and LIVEKIT_API_SECRET" },
  LIVEKIT_API_KEY: { default: undefined, meaning: "LiveKit's API key" },
  LIVEKIT_API_SECRET: { default: undefined, meaning: "LiveKit's API secret" },
  ROLLCALL_LIVEKIT_ACCOUNT_SID: { default: undefined, meaning: "the account that owns the LiveKit rooms; unset for the only account" },
  ROLLCALL_LIVEKIT_RECONCILE_SECONDS: { default: "60", meaning: "how often the LiveKit bridge compares rooms and participants" },
  ROLLCALL_HEADERS_TIMEOUT_MS: {
    default: "30000",
    meaning: "a connection sends a whole HTTP/1.1 request head, or opens an HTTP/2 stream, within this",
  },
  ROLLCALL_REQUEST_TIMEOUT_MS: {
    default: "60000",
    meaning: "a whole request, body included, arrives within this (at least ROLLCALL_HEADERS_TIMEOUT_MS)",
  },
  ROLLCALL_IDLE_TIMEOUT_MS: { default: "60000", meaning: "a connection with no request in flight for this long is closed" },
  ROLLCALL_MAX_CONCURRENT_STREAMS: { default: "100", meaning: "SETTINGS_MAX_CONCURRENT_STREAMS of every HTTP/2 connection" },
  ROLLCALL_CONNECTIONS_PER_SECOND: { default: "50", meaning: "new connections one client address may open per second, after..." },
  ROLLCALL_CONNECTION_BURST: { default: "200", meaning: "...a burst of this many" },
  ROLLCALL_RESETS_PER_SECOND: { default: "100", meaning: "HTTP/2 streams one client address may reset per second, after..." },
  ROLLCALL_RESET_BURST: { default: "500", meaning: "...a burst of this many; beyond them its connection gets GOAWAY" },
  ROLLCALL_LOG_LEVEL: { default: "info", meaning: "trace, debug, info, warn, error, fatal or silent" },
  ROLLCALL_LOG_FORMAT: { default: "json", meaning: "json (one JSON object per line), or pretty for people (pino-pretty)" },
  ROLLCALL_METRICS: { default: "on", meaning: "off: no /metrics and nothing counted" },
  ROLLCALL_METRICS_PORT: { default: undefined, meaning: "serve /metrics on this port instead of the main one", port: true },
  ROLLCALL_AUTH_FAILURES_PER_ADDRESS: { default: "600", meaning: "failed authentications a client address may make per minute before 429" },
  ROLLCALL_AUTH_FAILURES_PER_ACCOUNT: {
    default: "1200",
    meaning: "failed authentications per minute naming one account or API key sid before 429",
  },
} as const satisfies Record<string, Setting>;

export type SettingName = keyof typeof settings;

// The variable's value, or its default when it is unset or empty.
function read(env: NodeJS.ProcessEnv, name: SettingName): string | undefined {
  const text = env[name];
  return text === undefined || text === "" ? settings[name].default : text;
}

export function configFromEnv(env: NodeJS.ProcessEnv): Config {
  if (env.REDIS_URL && env.REDIS_CLUSTER_NODES) {
    throw new ConfigError(
      "REDIS_URL and REDIS_CLUSTER_NODES are both set; set REDIS_URL for one Redis server or REDIS_CLUSTER_NODES for a Redis Cluster",
    );
  }
  return {
    port: integer(env, "PORT", 0, 65535),
    grpcPort: read(env, "GRPC_PORT") === "off" ? undefined : integer(env, "GRPC_PORT", 0, 65535),
    host: read(env, "HOST")!,
    redisUrl: redisUrl(env),
    redisClusterNodes: clusterNodes(env),
    credentialsFile: read(env, "ROLLCALL_CREDENTIALS_FILE"),
    publicUrl: publicUrl(env),
    maxParticipants: integer(env, "ROLLCALL_MAX_PARTICIPANTS", 1, 1_000_000),
    maxRequestBytes: integer(env, "ROLLCALL_MAX_REQUEST_BYTES", 1024, 64 * 1024 * 1024),
    redisCommandTimeoutMs: integer(env, "ROLLCALL_REDIS_TIMEOUT_MS", 10, 600_000),
    shutdownGraceMs: integer(env, "ROLLCALL_SHUTDOWN_GRACE_MS", 0, 600_000),
    eventRetentionHours: integer(env, "ROLLCALL_EVENT_RETENTION_HOURS", 1, 24 * 365),
    eventRetentionPerRoom: integer(env, "ROLLCALL_EVENT_RETENTION_PER_ROOM", 1, 10_000_000),
    watchKeepAliveMs: integer(env, "ROLLCALL_WATCH_KEEPALIVE_MS", 10, 600_000),
    maxRoomHours: integer(env, "ROLLCALL_MAX_ROOM_HOURS", 1, 24 * 365),
    timersEnabled: onOff(env, "ROLLCALL_TIMERS"),
    timerIntervalMs: integer(env, "ROLLCALL_TIMER_INTERVAL_MS", 10, 60_000),
    callbacksEnabled: onOff(env, "ROLLCALL_CALLBACKS"),
    callbackRetryForMs: duration(env, "ROLLCALL_CALLBACK_RETRY_FOR"),
    callbackAllow: allowList(env),
    callbackTimeoutMs: integer(env, "ROLLCALL_CALLBACK_TIMEOUT_MS", 10, 15_000),
    callbackBackoffMs: integer(env, "ROLLCALL_CALLBACK_BACKOFF_MS", 1, 600_000),
    callbackBackoffMaxMs: integer(env, "ROLLCALL_CALLBACK_BACKOFF_MAX_MS", 1, 3_600_000),
    callbackLeaseMs: integer(env, "ROLLCALL_CALLBACK_LEASE_MS", 100, 600_000),
    callbackPollMs: integer(env, "ROLLCALL_CALLBACK_POLL_MS", 10, 600_000),
    callbackConcurrency: integer(env, "ROLLCALL_CALLBACK_CONCURRENCY", 1, 10_000),
    liveKit: liveKit(env),
    authFailuresPerAddressPerMinute: integer(env, "ROLLCALL_AUTH_FAILURES_PER_ADDRESS", 1, 1_000_000),
    authFailuresPerAccountPerMinute: integer(env, "ROLLCALL_AUTH_FAILURES_PER_ACCOUNT", 1, 1_000_000),
    connections: connectionLimits(env),
    logLevel: oneOf(env, "ROLLCALL_LOG_LEVEL", logLevels),
    logFormat: oneOf(env, "ROLLCALL_LOG_FORMAT", ["json", "pretty"] as const),
    metricsEnabled: onOff(env, "ROLLCALL_METRICS"),
    metricsPort: read(env, "ROLLCALL_METRICS_PORT") === undefined ? undefined : integer(env, "ROLLCALL_METRICS_PORT", 0, 65535),
  };
}

const logLevels = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;

function oneOf<T extends string>(env: NodeJS.ProcessEnv, name: SettingName, values: readonly T[]): T {
  const text = read(env, name);
  if (text !== undefined && (values as readonly string[]).includes(text)) return text as T;
  throw new ConfigError(`${name} must be one of ${values.join(", ")}, got ${JSON.stringify(env[name])}`);
}

function connectionLimits(env: NodeJS.ProcessEnv): ConnectionLimits {
  const headersTimeoutMs = integer(env, "ROLLCALL_HEADERS_TIMEOUT_MS", 10, 600_000);
  const requestTimeoutMs = integer(env, "ROLLCALL_REQUEST_TIMEOUT_MS", 10, 3_600_000);
  if (requestTimeoutMs < headersTimeoutMs) {
    throw new ConfigError(
      `ROLLCALL_REQUEST_TIMEOUT_MS (${requestTimeoutMs}) must be at least ROLLCALL_HEADERS_TIMEOUT_MS (${headersTimeoutMs}): a request's headers are part of it`,
    );
  }
  return {
    headersTimeoutMs,
    requestTimeoutMs,
    idleTimeoutMs: integer(env, "ROLLCALL_IDLE_TIMEOUT_MS", 10, 3_600_000),
    maxConcurrentStreams: integer(env, "ROLLCALL_MAX_CONCURRENT_STREAMS", 1, 10_000),
    connectionsPerSecond: integer(env, "ROLLCALL_CONNECTIONS_PER_SECOND", 1, 1_000_000),
    connectionBurst: integer(env, "ROLLCALL_CONNECTION_BURST", 1, 1_000_000),
    resetsPerSecond: integer(env, "ROLLCALL_RESETS_PER_SECOND", 1, 1_000_000),
    resetBurst: integer(env, "ROLLCALL_RESET_BURST", 1, 1_000_000),
  };
}

function integer(env: NodeJS.ProcessEnv, name: SettingName, min: number, max: number): number {
  const text = read(env, name) ?? "";
  const value = Number(text);
  if (text.trim() === "" || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(env[name])}`);
  }
  return value;
}

function onOff(env: NodeJS.ProcessEnv, name: SettingName): boolean {
  const text = read(env, name);
  if (text === "on" || text === "off") return text === "on";
  throw new ConfigError(`${name} must be on or off, got ${JSON.stringify(text)}`);
}

const durationUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

// A duration: a whole number with an optional unit (ms, s, m, h); seconds without one.
function duration(env: NodeJS.ProcessEnv, name: SettingName): number {
  const text = read(env, name) ?? "";
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
  const parsed = parseAllowList(read(env, "ROLLCALL_CALLBACK_ALLOW") ?? "");
  if ("error" in parsed)
    throw new ConfigError(`ROLLCALL_CALLBACK_ALLOW must be comma-separated CIDRs, addresses and host names: ${parsed.error}`);
  return parsed;
}

function clusterNodes(env: NodeJS.ProcessEnv): string[] | undefined {
  const text = read(env, "REDIS_CLUSTER_NODES");
  if (text === undefined) return undefined;
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

// The URL of one Redis server. ioredis reads any other scheme as a socket
// path and a database that is no number as 0; both are refused here, naming
// the variable, rather than met later as a connection error.
function redisUrl(env: NodeJS.ProcessEnv): string | undefined {
  const text = read(env, "REDIS_URL");
  if (text === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  const shape = "redis://[[user]:password@]host[:port][/db] or rediss://... for TLS";
  if (url === undefined || (url.protocol !== "redis:" && url.protocol !== "rediss:") || url.hostname === "") {
    throw new ConfigError(`REDIS_URL must be ${shape}, got ${JSON.stringify(redactUrl(text))}`);
  }
  if (!/^(\/\d{0,5})?$/.test(url.pathname)) {
    throw new ConfigError(`REDIS_URL's database, after the port, must be a number such as /0; got ${JSON.stringify(redactUrl(text))}`);
  }
  return text;
}

function publicUrl(env: NodeJS.ProcessEnv): string | undefined {
  const text = read(env, "PUBLIC_URL");
  if (text === undefined) return undefined;
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
  const url = read(env, "LIVEKIT_URL");
  if (url === undefined) {
    for (const name of ["LIVEKIT_API_KEY", "LIVEKIT_API_SECRET", "ROLLCALL_LIVEKIT_ACCOUNT_SID"] as const) {
      if (read(env, name) !== undefined)
        throw new ConfigError(`${name} is set without LIVEKIT_URL; set LIVEKIT_URL to bridge LiveKit, or unset ${name}`);
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
  const apiKey = read(env, "LIVEKIT_API_KEY") ?? "";
  const apiSecret = read(env, "LIVEKIT_API_SECRET") ?? "";
  if (apiKey === "" || apiSecret === "")
    throw new ConfigError("LIVEKIT_URL is set: LIVEKIT_API_KEY and LIVEKIT_API_SECRET must be set too");
  const accountSid = read(env, "ROLLCALL_LIVEKIT_ACCOUNT_SID");
  if (accountSid !== undefined && !/^AC[0-9a-fA-F]{32}$/.test(accountSid)) {
    throw new ConfigError(`ROLLCALL_LIVEKIT_ACCOUNT_SID must be "AC" and 32 hex digits, got ${JSON.stringify(accountSid)}`);
  }
  return { url, apiKey, apiSecret, accountSid, reconcileMs: integer(env, "ROLLCALL_LIVEKIT_RECONCILE_SECONDS", 1, 86_400) * 1000 };
}
