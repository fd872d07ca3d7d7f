import { configFromEnv, type Config } from "../../src/config.js";
import { openStore, startServer, type RunningServer } from "../../src/server.js";

export const testAccount = "AC" + "1".repeat(32);

// A rollcall server on a free port of 127.0.0.1, on the memory store or, with
// redisUrl, on Redis. Its log lines are kept, not printed.
export async function startRollcall(settings: Partial<Config> = {}): Promise<RunningServer & { logs: string[] }> {
  const config: Config = { ...configFromEnv({}), port: 0, accountSid: testAccount, shutdownGraceMs: 2000, ...settings };
  const logs: string[] = [];
  const store = await openStore(config);
  const server = await startServer(config, store, (line) => logs.push(line));
  return { ...server, logs };
}
