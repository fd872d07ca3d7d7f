import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { setTimeout as delay } from "node:timers/promises";
import {
  Health,
  HealthCheckResponse_ServingStatus as ServingStatus,
  HealthCheckResponseSchema,
  HealthListResponseSchema,
} from "../../gen/grpc/health/v1/health_pb.js";
import type { Logger } from "../observability/logger.js";
import { healthServing } from "../observability/metrics.js";

export interface HealthOptions {
  // How often a Watch stream asks the store again.
  pollIntervalMs: number;
  // A ping not answered in this time counts as not serving, so a hung store
  // fails a probe before the probe's own deadline does.
  pingTimeoutMs: number;
  // Where a change of the status is told.
  log?: Logger;
}

// gRPC health checking for the server as a whole ("") and each of the given
// services. They are all as healthy as the store: SERVING while it answers a
// ping, NOT_SERVING while it does not and from the moment the server starts
// draining, when Watch streams end so that they do not hold up the shutdown.
export function healthService(
  ping: () => Promise<void>,
  services: string[],
  draining: AbortSignal,
  options: HealthOptions,
): ServiceImpl<typeof Health> {
  const known = new Set(["", ...services]);
  // Every check and watcher waiting at once shares one ping, so a hung store
  // sees one command, not one per caller.
  let pinging: Promise<boolean> | undefined;
  let last: boolean | undefined;
  const changed = (serving: boolean) => {
    if (serving === last) return;
    last = serving;
    healthServing.set(serving ? 1 : 0);
    if (serving) options.log?.info("health: SERVING");
    else options.log?.warn(draining.aborted ? "health: NOT_SERVING (draining)" : "health: NOT_SERVING (the store did not answer a ping)");
  };
  const status = async () => {
    if (draining.aborted) {
      changed(false);
      return ServingStatus.NOT_SERVING;
    }
    pinging ??= answersWithin(ping, options.pingTimeoutMs).finally(() => {
      pinging = undefined;
    });
    const serving = (await pinging) && !draining.aborted;
    changed(serving);
    return serving ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
  };

  return {
    async check(req) {
      if (!known.has(req.service)) throw new ConnectError(`unknown service ${JSON.stringify(req.service)}`, Code.NotFound);
      return create(HealthCheckResponseSchema, { status: await status() });
    },

    // Sends the status now and again whenever it changes. An unknown service
    // stays SERVICE_UNKNOWN, but its stream stays open as the protocol asks.
    async *watch(req, ctx) {
      const stop = AbortSignal.any([ctx.signal, draining]);
      let last: ServingStatus | undefined;
      while (!ctx.signal.aborted) {
        const current = known.has(req.service) ? await status() : ServingStatus.SERVICE_UNKNOWN;
        if (current !== last) yield create(HealthCheckResponseSchema, { status: current });
        last = current;
        if (draining.aborted) return;
        await delay(options.pollIntervalMs, undefined, { signal: stop }).catch(() => undefined);
      }
    },

    async list() {
      const current = await status();
      return create(HealthListResponseSchema, { statuses: Object.fromEntries([...known].map((name) => [name, { status: current }])) });
    },
  };
}

function answersWithin(ping: () => Promise<void>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    ping()
      .then(
        () => resolve(true),
        () => resolve(false),
      )
      .finally(() => clearTimeout(timer));
  });
}
