import { compressionBrotli, compressionGzip } from "@connectrpc/connect-node";
import type { Config } from "./config.js";
import type { Credentials } from "./credentials.js";
import { EventOperations } from "./operations/events.js";
import { ParticipantOperations } from "./operations/participants.js";
import { RoomOperations } from "./operations/rooms.js";
import { MemoryStore } from "./store/memory/memory-store.js";
import { RedisStore } from "./store/redis/redis-store.js";
import type { Store } from "./store/store.js";
import { BasicAuth } from "./transports/basic-auth.js";
import { consoleFilesHandler, isConsolePath } from "./transports/console-files.js";
import { OnePortServer } from "./transports/one-port-server.js";
import { isRestPath, restHandler } from "./transports/rest/handler.js";
import { authenticationInterceptor } from "./transports/rpc/authentication.js";
import { errorInterceptor } from "./transports/rpc/errors.js";
import { rpcNodeHandler } from "./transports/rpc/node-handler.js";
import { GrpcJsServer } from "./transports/grpc-js-server.js";
import { connectRoutes, publicServices, rpcServices } from "./transports/rpc/services.js";

export interface RunningServer {
  url: string;
  port: number;
  // The port of the @grpc/grpc-js server, if one runs.
  grpcPort: number | undefined;
  // Stops accepting, lets calls in flight finish (streams end after their
  // current page, Watch streams at once), then closes the store.
  close(): Promise<void>;
}

export type Log = (message: string) => void;

export async function openStore(config: Config): Promise<Store> {
  const retention = { retentionMs: config.eventRetentionHours * 3_600_000, retentionPerRoom: config.eventRetentionPerRoom };
  const options = { commandTimeoutMs: config.redisCommandTimeoutMs, ...retention };
  if (config.redisClusterNodes !== undefined) return RedisStore.connectCluster(config.redisClusterNodes, options);
  if (config.redisUrl !== undefined) return RedisStore.connect(config.redisUrl, options);
  return new MemoryStore(retention);
}

// Wires the layers: transports over operations over the store.
export async function startServer(config: Config, store: Store, credentials: Credentials, log: Log): Promise<RunningServer> {
  const rooms = new RoomOperations(store, { maxParticipants: config.maxParticipants });
  const participants = new ParticipantOperations(store, rooms);
  const events = new EventOperations(store, rooms, { keepAliveMs: config.watchKeepAliveMs });
  const auth = new BasicAuth(credentials);
  const draining = new AbortController();
  const bindings = rpcServices(participants, rooms, events, () => store.ping(), draining.signal);
  const rpc = rpcNodeHandler(
    {
      routes: connectRoutes(bindings),
      acceptCompression: [compressionGzip, compressionBrotli],
      readMaxBytes: config.maxRequestBytes,
      writeMaxBytes: 64 * 1024 * 1024,
      interceptors: [errorInterceptor(log), authenticationInterceptor(auth, publicServices)],
    },
    log,
  );
  const rest = restHandler({ participants, rooms, auth, publicUrl: config.publicUrl, maxRequestBytes: config.maxRequestBytes, log });
  const consoleFiles = consoleFilesHandler();
  const server = new OnePortServer(
    (req, res) => (isConsolePath(req.url) ? consoleFiles(req, res) : isRestPath(req.url) ? rest(req, res) : rpc(req, res)),
    { handshakeTimeoutMs: 10_000 },
  );
  const grpcServer =
    config.grpcPort === undefined
      ? undefined
      : new GrpcJsServer({ bindings, publicServices: new Set(publicServices.map((s) => s.typeName)), auth, maxRequestBytes: config.maxRequestBytes, log });
  const address = await server.listen(config.port, config.host);
  const grpcPort = await grpcServer?.listen(config.grpcPort!, config.host);
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    grpcPort,
    async close() {
      draining.abort();
      await Promise.all([server.close(config.shutdownGraceMs), grpcServer?.close(config.shutdownGraceMs)]);
      await store.close();
    },
  };
}
