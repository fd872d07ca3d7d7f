// Why a first connection to Redis failed, in words that say what to fix.
// ioredis rejects connect() with "Connection is closed." whatever the cause;
// the cause is the error it emitted before, passed here.
export function connectFailure(cause: Error, db: number): string {
  const message = cause.message;
  const code = (cause as NodeJS.ErrnoException).code;
  const hint =
    code === "ECONNREFUSED"
      ? "nothing listens at that host and port"
      : code === "ENOTFOUND" || code === "EAI_AGAIN"
        ? "the host name does not resolve"
        : code === "ETIMEDOUT"
          ? "the host did not answer"
          : /^NOAUTH\b/.test(message)
            ? "the server requires a password, and REDIS_URL has none (redis://:password@host:port)"
            : /^WRONGPASS\b|invalid password/i.test(message)
              ? "the server refused the user name or password in REDIS_URL"
              : /^Unknown RESP type|^Protocol error/.test(message)
                ? "the server does not speak the Redis protocol: is that port another service, such as an HTTP server?"
                : /DB index is out of range/.test(message)
                  ? `the server has no database ${db} (it has as many as its "databases" setting, 16 unless changed)`
                  : undefined;
  return hint === undefined ? message : `${message} (${hint})`;
}
