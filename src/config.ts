// Settings, read once from the environment at start. A bad value stops the
// server with a message naming the variable.

export interface Config {
  port: number;
  host: string;
  redisUrl: string | undefined;
  // The account every call acts for, until authentication arrives.
  accountSid: string;
  maxParticipants: number;
  maxRequestBytes: number;
  redisCommandTimeoutMs: number;
  shutdownGraceMs: number;
}

// Used when ROLLCALL_ACCOUNT_SID is unset; printed at start.
export const developmentAccountSid = "AC" + "0".repeat(32);

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

export function configFromEnv(env: NodeJS.ProcessEnv): Config {
  return {
    port: integer(env, "PORT", 8080, 0, 65535),
    host: env.HOST || "127.0.0.1",
    redisUrl: env.REDIS_URL || undefined,
    accountSid: accountSid(env),
    maxParticipants: integer(env, "ROLLCALL_MAX_PARTICIPANTS", 50, 1, 1_000_000),
    maxRequestBytes: integer(env, "ROLLCALL_MAX_REQUEST_BYTES", 256 * 1024, 1024, 64 * 1024 * 1024),
    redisCommandTimeoutMs: integer(env, "ROLLCALL_REDIS_TIMEOUT_MS", 2000, 10, 600_000),
    shutdownGraceMs: integer(env, "ROLLCALL_SHUTDOWN_GRACE_MS", 10_000, 0, 600_000),
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

function accountSid(env: NodeJS.ProcessEnv): string {
  const text = env.ROLLCALL_ACCOUNT_SID;
  if (text === undefined || text === "") return developmentAccountSid;
  if (!/^AC[0-9a-f]{32}$/.test(text)) throw new ConfigError(`ROLLCALL_ACCOUNT_SID must be "AC" and 32 lowercase hex digits, got ${JSON.stringify(text)}`);
  return text;
}
