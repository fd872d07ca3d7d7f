import type { Logger } from "../../observability/logger.js";
import { storeConnected } from "../../observability/metrics.js";
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
