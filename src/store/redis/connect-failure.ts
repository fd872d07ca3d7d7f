// Why a first connection to Redis failed, in words that say what to fix.
// ioredis rejects connect() with "Connection is closed." whatever the cause;
// the causes are the errors it emitted before, passed here. The most telling
// is named: a server that is not Redis may close the connection (EPIPE)
// before or after its answer is found not to be Redis's.
export function connectFailure(causes: Error[], db: number): string {
  const explained = causes.map((cause) => ({ message: cause.message, hint: hintFor(cause, db) }));
  const closed = (hint: string | undefined) => hint === connectionClosed;
  const { message, hint } = explained.find((cause) => cause.hint !== undefined && !closed(cause.hint)) ??
    explained.find((cause) => cause.hint !== undefined) ??
    explained[0] ?? { message: "no answer", hint: undefined };
  return hint === undefined ? message : `${message} (${hint})`;
}

const connectionClosed = "the server closed the connection at once: is that port another service, or one that wants TLS (rediss://)?";

function hintFor(cause: Error, db: number): string | undefined {
  const code = (cause as NodeJS.ErrnoException).code ?? "";
  const hints: [boolean, string][] = [
    [code === "ECONNREFUSED", "nothing listens at that host and port"],
    [code === "ENOTFOUND" || code === "EAI_AGAIN", "the host name does not resolve"],
    [code === "ETIMEDOUT", "the host did not answer"],
    [/^NOAUTH\b/.test(cause.message), "the server requires a password, and REDIS_URL has none (redis://:password@host:port)"],
    [/^WRONGPASS\b|invalid password/i.test(cause.message), "the server refused the user name or password in REDIS_URL"],
    [
      /^Unknown RESP type|^Protocol error/.test(cause.message),
      "the server does not speak the Redis protocol: is that port another service, such as an HTTP server?",
    ],
    [
      /DB index is out of range/.test(cause.message),
      `the server has no database ${db} (it has as many as its "databases" setting, 16 unless changed)`,
    ],
    [code === "EPIPE" || code === "ECONNRESET", connectionClosed],
  ];
  return hints.find(([applies]) => applies)?.[1];
}
