import { configFromEnv } from "./config.js";
import { helpText } from "./help.js";
import { packageVersion } from "./version.js";
import { developmentCredentials, loadCredentials, type Credentials } from "./credentials.js";
import { createLogger, type Logger } from "./observability/logger.js";
import { openStore, startServer } from "./server.js";

// The credentials from the configured file, or development credentials made
// now, with the lines that announce them.
function credentialsOf(file: string | undefined): { credentials: Credentials; announcement: string[] } {
  if (file !== undefined) {
    const credentials = loadCredentials(file);
    return { credentials, announcement: [`credentials: ${credentials.users.size} accounts and API keys from ${file}`] };
  }
  const dev = developmentCredentials();
  return {
    credentials: dev.credentials,
    announcement: [
      "credentials: ROLLCALL_CREDENTIALS_FILE is not set, so these were made for local use only:",
      `  account ${dev.accountSid} auth token ${dev.authToken}`,
      `  API key ${dev.apiKeySid} secret ${dev.apiKeySecret} (for ${dev.accountSid})`,
    ],
  };
}

async function main(args: string[]): Promise<void> {
  if (args.includes("--help") || args.includes("-h")) return void process.stdout.write(helpText(packageVersion()));
  if (args.includes("--version")) return void process.stdout.write(`rollcall ${packageVersion()}\n`);
  if (args.length > 0)
    throw new Error(`unknown argument ${JSON.stringify(args[0])}; rollcall takes its settings from the environment (see --help)`);
  const config = configFromEnv(process.env);
  const log: Logger = createLogger({ level: config.logLevel, format: config.logFormat });
  const { credentials, announcement } = credentialsOf(config.credentialsFile);
  const store = await openStore(config, log);
  log.info(`store: ${store.description}`);
  // The secrets are printed only once the ports are held: a start that
  // fails prints none of them.
  const server = await startServer(config, store, credentials, log);
  for (const line of announcement) log.info(line);
  log.info(`serving gRPC, gRPC-Web, Connect and Twilio REST (/v1) on ${server.url}`);
  if (server.grpcPort !== undefined) log.info(`serving gRPC (@grpc/grpc-js) on GRPC_PORT ${server.grpcPort}`);
  if (server.metricsPort !== undefined) log.info(`serving /metrics on ROLLCALL_METRICS_PORT ${server.metricsPort}`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal}: finishing calls in flight, then exiting`);
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(`rollcall: cannot start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
