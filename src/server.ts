import { compressionBrotli, compressionGzip } from "@connectrpc/connect-node";
import type { ServerHttp2Session } from "node:http2";
import { Delivery, type Resolve } from "./callbacks/delivery.js";
import { CallbackRelay } from "./callbacks/relay.js";
import { TargetPolicy } from "./callbacks/target-policy.js";
import type { Config } from "./config.js";
import type { Credentials } from "./credentials.js";
import { CallbackOperations } from "./operations/callbacks.js";
import { EventOperations } from "./operations/events.js";
import { ParticipantOperations } from "./operations/participants.js";
import { RoomOperations } from "./operations/rooms.js";
import { TrackOperations } from "./operations/tracks.js";
import { MemoryStore } from "./store/memory/memory-store.js";
import { RedisStore } from "./store/redis/redis-store.js";
import { TimerSweeper } from "./timers/sweeper.js";
import { listening } from "./port-in-use.js";
import { LiveKitBridge } from "./livekit/livekit-bridge.js";
import { isLiveKitWebhookPath } from "./livekit/webhook-ingest.js";
import type { Store } from "./store/store.js";
import { BasicAuth } from "./transports/basic-auth.js";
import { consoleFilesHandler, isConsolePath } from "./transports/http/console-files.js";
import { guardSession } from "./transports/http/http2-session-guard.js";
import { OnePortServer } from "./transports/http/one-port-server.js";
import { isProbePath, probesHandler } from "./transports/http/probes.js";
import { isRestPath, restHandler } from "./transports/rest/handler.js";
import { CallPolicy } from "./transports/call-policy.js";
import { rpcNodeHandler } from "./transports/connect/node-handler.js";
import { isMetricsPath, metricsHandler, MetricsServer } from "./transports/http/metrics-endpoint.js";
import type { Logger } from "./observability/logger.js";
import { storeConnected } from "./observability/metrics.js";
import { GrpcJsServer } from "./transports/grpc-js/grpc-js-server.js";
import { connectRoutes, publicServices, rpcServices } from "./services/services.js";

export interface RunningServer {
  url: string;
  port: number;
  // GRPC_PORT, a second port for gRPC alone through @grpc/grpc-js, if it is on.
  grpcPort: number | undefined;
  // The port serving /metrics alone, with ROLLCALL_METRICS_PORT.
  metricsPort: number | undefined;
  // Delivers the status callbacks of the credentials' accounts.
  callbacks: CallbackRelay;
  // Ends rooms and participants whose time is up.
  timers: TimerSweeper;
  // The LiveKit bridge, when LIVEKIT_URL is set.
  liveKit: LiveKitBridge | undefined;
  // Authentication on every transport; its counters (failed, throttled) and
  // cache size are for a metrics exporter.
  auth: BasicAuth;
  // Stops accepting, lets calls in flight finish (streams end after their
  // current page, Watch streams at once), then closes the store.
  close(): Promise<void>;
}

// `log` hears of Redis connection loss and recovery and of Redis refusing
// writes; `now` replaces the wall clock changes take their time from (tests).
export async function openStore(config: Config, log?: Logger, now?: () => number): Promise<Store> {
  const retention = {
    retentionMs: config.eventRetentionHours * 3_600_000,
    retentionPerRoom: config.eventRetentionPerRoom,
    maxRoomMs: config.maxRoomHours * 3_600_000,
    now,
  };
  const options = {
    commandTimeoutMs: config.redisCommandTimeoutMs,
    log: log?.child({ component: "store" }),
    timeOperations: config.metricsEnabled,
    ...retention,
  };
  if (config.redisClusterNodes !== undefined) return RedisStore.connectCluster(config.redisClusterNodes, options);
  if (config.redisUrl !== undefined) return RedisStore.connect(config.redisUrl, options);
  storeConnected.set(1);
  return new MemoryStore(retention);
}

export interface ServerHooks {
  // Answers DNS lookups for callback hosts instead of the system resolver (tests).
  callbackResolve?: Resolve;
  // The wall clock the store was given, if not the real one (tests).
  now?: () => number;
}

// Wires the layers: transports and the callback relay over operations over the store.
export async function startServer(
  config: Config,
  store: Store,
  credentials: Credentials,
  log: Logger,
  hooks: ServerHooks = {},
): Promise<RunningServer> {
  const accountCallbacks = new Map(
    [...credentials.accounts].flatMap(([sid, account]) => (account.callback ? [[sid, account.callback] as const] : [])),
  );
  const rooms = new RoomOperations(store, { maxParticipants: config.maxParticipants }, accountCallbacks);
  const participants = new ParticipantOperations(store, rooms);
  const tracks = new TrackOperations(store, participants);
  const events = new EventOperations(store, rooms, { keepAliveMs: config.watchKeepAliveMs });
  const auth = new BasicAuth(
    credentials,
    { perAddressPerMinute: config.authFailuresPerAddressPerMinute, perAccountPerMinute: config.authFailuresPerAccountPerMinute },
    log.child({ component: "auth" }),
  );
  const draining = new AbortController();
  const bindings = rpcServices(
    participants,
    rooms,
    events,
    new CallbackOperations(store),
    tracks,
    () => store.ping(),
    draining.signal,
    log.child({ component: "health" }),
  );
  const policy = new CallPolicy({
    auth,
    publicServices: new Set(publicServices.map((service) => service.typeName)),
    log,
    metrics: config.metricsEnabled,
  });
  const rpc = rpcNodeHandler(
    {
      routes: connectRoutes(bindings),
      acceptCompression: [compressionGzip, compressionBrotli],
      readMaxBytes: config.maxRequestBytes,
      writeMaxBytes: 64 * 1024 * 1024,
      // Compressing a message of a few KiB costs more CPU than it saves on
      // the wire; Watch streams send many such.
      compressMinBytes: 64 * 1024,
    },
    policy,
  );
  const rest = restHandler({
    participants,
    rooms,
    tracks,
    auth,
    publicUrl: config.publicUrl,
    maxRequestBytes: config.maxRequestBytes,
    policy,
  });
  const liveKit =
    config.liveKit === undefined
      ? undefined
      : new LiveKitBridge(store, rooms, participants, {
          config: config.liveKit,
          accounts: [...credentials.accounts.keys()],
          maxRequestBytes: config.maxRequestBytes,
          control: {
            leaseMs: config.callbackLeaseMs,
            pollMs: config.callbackPollMs,
            backoffMs: config.callbackBackoffMs,
            backoffMaxMs: config.callbackBackoffMaxMs,
          },
          log: log.child({ component: "livekit" }),
        });
  const liveKitWebhook = policy.httpHandler("POST /livekit/webhook", "http", (req, res) => liveKit?.handle(req, res));
  const consoleFiles = policy.httpHandler("GET /console", "http", consoleFilesHandler());
  const probes = policy.httpHandler(
    "GET /probes",
    "http",
    probesHandler({
      readiness: [{ name: "store", check: () => store.ping() }],
      draining: draining.signal,
      timeoutMs: 1000,
    }),
  );
  // /metrics on the main port unless it has one of its own, or is off.
  const metricsHere = config.metricsEnabled && config.metricsPort === undefined;
  const metrics = policy.httpHandler("GET /metrics", "http", metricsHandler);
  const server = new OnePortServer(
    (req, res) =>
      isProbePath(req.url)
        ? probes(req, res)
        : liveKit !== undefined && isLiveKitWebhookPath(req.url)
          ? liveKitWebhook(req, res)
          : isConsolePath(req.url)
            ? consoleFiles(req, res)
            : isRestPath(req.url)
              ? rest(req, res)
              : metricsHere && isMetricsPath(req.url)
                ? metrics(req, res)
                : rpc(req, res),
    config.connections,
  );
  const metricsServer = config.metricsEnabled && config.metricsPort !== undefined ? new MetricsServer() : undefined;
  const grpcServer = new GrpcJsServer({
    bindings,
    policy,
    maxRequestBytes: config.maxRequestBytes,
    maxConcurrentStreams: config.connections.maxConcurrentStreams,
  });
  const onSession = (session: ServerHttp2Session) => guardSession(session, config.connections, server.resetBuckets);
  server.handGrpcTo({
    mixed: grpcServer.acceptConnections({
      serveOther: (stream, headers, flags, rawHeaders) => server.serveStream(stream, headers, flags, rawHeaders),
      onSession,
    }),
    only: grpcServer.acceptConnections({ onSession }),
  });
  const delivery = new Delivery({
    timeoutMs: config.callbackTimeoutMs,
    policy: new TargetPolicy(config.callbackAllow),
    resolve: hooks.callbackResolve,
  });
  const callbacks = new CallbackRelay(
    store,
    delivery,
    {
      accounts: new Map([...credentials.accounts].map(([sid, account]) => [sid, account.authToken])),
      retryForMs: config.callbackRetryForMs,
      backoffMs: config.callbackBackoffMs,
      backoffMaxMs: config.callbackBackoffMaxMs,
      leaseMs: config.callbackLeaseMs,
      pollMs: config.callbackPollMs,
      concurrency: config.callbackConcurrency,
      maxTimeoutMs: config.callbackTimeoutMs,
    },
    log.child({ component: "callbacks" }),
  );
  const timers = new TimerSweeper(
    store,
    { accounts: [...credentials.accounts.keys()], intervalMs: config.timerIntervalMs },
    log.child({ component: "timers" }),
    hooks.now,
  );
  const address = await listening("PORT", config.port, config.host, () => server.listen(config.port, config.host));
  const grpcPort =
    config.grpcPort === undefined
      ? undefined
      : (await listening("GRPC_PORT", config.grpcPort, config.host, () => server.listen(config.grpcPort!, config.host, "grpc"))).port;
  const metricsPort =
    metricsServer &&
    (await listening("ROLLCALL_METRICS_PORT", config.metricsPort!, config.host, () =>
      metricsServer.listen(config.metricsPort!, config.host),
    ));
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  if (config.callbacksEnabled) callbacks.start();
  if (config.timersEnabled) timers.start();
  if (liveKit !== undefined) {
    liveKit.start();
    log.info(`livekit: bridging LiveKit at ${config.liveKit!.url} for account ${liveKit.accountSid}; webhooks on POST /livekit/webhook`);
  }
  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    grpcPort,
    metricsPort,
    callbacks,
    timers,
    liveKit,
    auth,
    async close() {
      draining.abort();
      await Promise.all([server.close(config.shutdownGraceMs), grpcServer.close(config.shutdownGraceMs), metricsServer?.close()]);
      // The last changes' callbacks are left to the next holder of the leases.
      await Promise.all([callbacks.close(), timers.close(), liveKit?.close()]);
      await store.close();
    },
  };
}
