import { ConfigError, configFromEnv, developmentAccountSid } from "./config.js";
import { openStore, startServer } from "./server.js";

const log = (message: string) => console.log(`rollcall: ${message}`);

async function main(): Promise<void> {
  const config = configFromEnv(process.env);
  const store = await openStore(config);
  log(`store: ${store.description}`);
  if (config.accountSid === developmentAccountSid) log(`account: ${config.accountSid} (development account; set ROLLCALL_ACCOUNT_SID)`);
  else log(`account: ${config.accountSid}`);
  const server = await startServer(config, store, log);
  log(`serving gRPC, gRPC-Web and Connect on ${server.url}`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: finishing calls in flight, then exiting`);
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        log(`shutdown failed: ${String(error)}`);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

main().catch((error: unknown) => {
  console.error(`rollcall: cannot start: ${error instanceof ConfigError ? error.message : error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
