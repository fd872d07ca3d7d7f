import { configFromEnv, type Config } from "../../src/config.js";
import { parseCredentials } from "../../src/credentials.js";
import { openStore, startServer, type RunningServer, type ServerHooks } from "../../src/server.js";
import type { Store } from "../../src/store/store.js";
import { LogCapture } from "./log-capture.js";

// Two accounts, the first with an API key, so tests can act as either and
// check that neither sees the other's data.
export const testAccount = { sid: "AC" + "1".repeat(32), token: "token-of-account-one" };
export const otherAccount = { sid: "AC" + "2".repeat(32), token: "token-of-account-two" };
export const testApiKey = { sid: "SK" + "3".repeat(32), secret: "secret-of-key-three" };

export function basic(user: string, password: string): string {
  return "Basic " + Buffer.from(`${user}:${password}`).toString("base64");
}

export const testAuthorization = basic(testAccount.sid, testAccount.token);
export const otherAuthorization = basic(otherAccount.sid, otherAccount.token);

export const testCredentials = parseCredentials(
  {
    accounts: [
      { sid: testAccount.sid, auth_token: testAccount.token },
      { sid: otherAccount.sid, auth_token: otherAccount.token },
    ],
    api_keys: [{ sid: testApiKey.sid, secret: testApiKey.secret, account_sid: testAccount.sid }],
  },
  "test credentials",
);

// The per-address token buckets, opened wide for the test suite's loopback clients.
export const loopbackRates = {
  connectionsPerSecond: 1_000_000,
  connectionBurst: 1_000_000,
  resetsPerSecond: 1_000_000,
  resetBurst: 1_000_000,
};

// A rollcall server on a free port of 127.0.0.1, on the memory store or, with
// redisUrl, on Redis. Its log lines are kept, not printed (`logs` has each
// line's component and message, `capture` the lines themselves); `store` is
// the store it serves, for tests that fill it directly or ping it.
// `hooks.now` gives the store and the timers a clock the test moves.
export async function startRollcall(
  settings: Partial<Config> = {},
  hooks: ServerHooks = {},
): Promise<RunningServer & { store: Store; readonly logs: string[]; capture: LogCapture }> {
  const defaults = configFromEnv({});
  const config: Config = {
    ...defaults,
    port: 0,
    grpcPort: 0,
    shutdownGraceMs: 2000,
    // Tests open hundreds of connections a second from 127.0.0.1, as no one
    // client should; test/integration/hostile-clients.test.ts sets the limits it tests.
    connections: { ...defaults.connections, ...loopbackRates },
    ...settings,
  };
  const capture = new LogCapture(config.logLevel);
  const store = await openStore(config, capture.logger, hooks.now);
  const server = await startServer(config, store, testCredentials, capture.logger, hooks);
  return {
    ...server,
    store,
    capture,
    get logs() {
      return capture.messages();
    },
  };
}
