import type { Logger } from "../../observability/logger.js";
import { storeConnected } from "../../observability/metrics.js";

// What this needs of an ioredis client (Redis or Cluster).
interface WatchedClient {
  status: string;
  on(event: "ready" | "close", listener: () => void): unknown;
}

// What operators see of the Redis connection: a log line when it is lost and
// when it is back, and rollcall_store_connected.
export function watchConnection(client: WatchedClient, where: string, log: Logger | undefined): void {
  let lost = false;
  client.on("ready", () => {
    storeConnected.set(1);
    if (lost) log?.info(`connection to ${where} recovered`);
    lost = false;
  });
  client.on("close", () => {
    storeConnected.set(0);
    if (!lost) log?.warn(`connection to ${where} lost; reconnecting`);
    lost = true;
  });
  if (client.status === "ready") storeConnected.set(1);
}
