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
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

export function configFromEnv(env: NodeJS.ProcessEnv): Config {
  if (env.REDIS_URL && env.REDIS_CLUSTER_NODES) {
    throw new ConfigError("REDIS_URL and REDIS_CLUSTER_NODES are both set; set REDIS_URL for one Redis server or REDIS_CLUSTER_NODES for a Redis Cluster");
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
  };
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

function clusterNodes(env: NodeJS.ProcessEnv): string[] | undefined {
  const text = env.REDIS_CLUSTER_NODES;
  if (text === undefined || text === "") return undefined;
  const nodes = text.split(",").map((node) => node.trim());
  for (const node of nodes) {
    const match = /^(?:\[[0-9A-Fa-f:.]+\]|[^\s:/[\]]+):(\d{1,5})$/.exec(node);
    if (match === null || Number(match[1]) < 1 || Number(match[1]) > 65535) {
      throw new ConfigError(`REDIS_CLUSTER_NODES must be comma-separated host:port seeds, e.g. 10.0.0.1:7000,10.0.0.2:7000; got ${JSON.stringify(node)} in ${JSON.stringify(text)}`);
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
