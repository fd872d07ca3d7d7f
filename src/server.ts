import { createContextValues } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { Config } from "./config.js";
import { ParticipantOperations } from "./operations/participants.js";
import { RoomOperations } from "./operations/rooms.js";
import { MemoryStore } from "./store/memory-store.js";
import { RedisStore } from "./store/redis-store.js";
import type { Store } from "./store/store.js";
import { OnePortServer } from "./transports/one-port-server.js";
import { accountKey } from "./transports/rpc/account.js";
import { errorInterceptor } from "./transports/rpc/errors.js";
import { rpcRoutes } from "./transports/rpc/routes.js";

export interface RunningServer {
  url: string;
  port: number;
  store: Store;
  // Stops accepting, lets calls in flight finish (streams end after their
  // current page), then closes the store.
  close(): Promise<void>;
}

export type Log = (message: string) => void;

export async function openStore(config: Config): Promise<Store> {
  if (config.redisUrl === undefined) return new MemoryStore();
  return RedisStore.connect(config.redisUrl, { commandTimeoutMs: config.redisCommandTimeoutMs });
}

// Wires the layers: transports over operations over the store.
export async function startServer(config: Config, store: Store, log: Log): Promise<RunningServer> {
  const rooms = new RoomOperations(store, { maxParticipants: config.maxParticipants });
  const participants = new ParticipantOperations(store, rooms);
  const draining = new AbortController();
  const handler = connectNodeAdapter({
    routes: rpcRoutes(participants, rooms, draining.signal),
    readMaxBytes: config.maxRequestBytes,
    writeMaxBytes: 64 * 1024 * 1024,
    interceptors: [errorInterceptor(log)],
    contextValues: () => createContextValues().set(accountKey, config.accountSid),
  });
  const server = new OnePortServer(handler, { handshakeTimeoutMs: 10_000 });
  const address = await server.listen(config.port, config.host);
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    store,
    async close() {
      draining.abort();
      await server.close(config.shutdownGraceMs);
      await store.close();
    },
  };
}
