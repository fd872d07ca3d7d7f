import { tracingChannel } from "node:diagnostics_channel";
import type { Logger } from "../../observability/logger.js";
import { storeCommandDuration, storeConnected } from "../../observability/metrics.js";
import type { Client } from "./connection.js";

// What operators see of the Redis connection: a log line when it is lost and
// when it is back, and rollcall_store_connected.
export function watchConnection(client: Client, where: string, log: Logger | undefined): void {
  let lost = false;
  client.on("ready", () => {
    storeConnected.set(1);
    if (lost) log?.info(`store: connection to ${where} recovered`);
    lost = false;
  });
  client.on("close", () => {
    storeConnected.set(0);
    if (!lost) log?.warn(`store: connection to ${where} lost; reconnecting`);
    lost = true;
  });
  if (client.status === "ready") storeConnected.set(1);
}

interface CommandContext {
  command: string;
  args: string[];
  started?: number;
}

// Commands that wait in Redis on purpose (the log followers' blocking
// reads): their time says nothing of Redis' health.
const blocking = (context: CommandContext) => context.args.some((arg) => arg === "BLOCK" || arg === "block");

let observing = false;

// Times every Redis command of the process through ioredis' own tracing
// channel (one subscription, whatever the number of clients), by command.
export function observeCommands(): void {
  if (observing) return;
  observing = true;
  const children = new Map<string, ReturnType<typeof storeCommandDuration.labels>>();
  tracingChannel<object, CommandContext>("ioredis:command").subscribe({
    start(context) {
      context.started = performance.now();
    },
    end() {},
    asyncStart() {},
    asyncEnd(context) {
      if (context.started === undefined || blocking(context)) return;
      let child = children.get(context.command);
      if (child === undefined) {
        child = storeCommandDuration.labels(context.command);
        children.set(context.command, child);
      }
      child.observe((performance.now() - context.started) / 1000);
    },
    error() {},
  });
}
