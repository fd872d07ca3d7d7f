import { expect } from "chai";
import { ConfigError, configFromEnv } from "../../src/config.js";

describe("REDIS_CLUSTER_NODES", () => {
  it("takes comma-separated host:port seeds", () => {
    expect(configFromEnv({ REDIS_CLUSTER_NODES: "10.0.0.1:7000, redis-2.internal:7001,[::1]:7002" }).redisClusterNodes).to.deep.equal([
      "10.0.0.1:7000",
      "redis-2.internal:7001",
      "[::1]:7002",
    ]);
    expect(configFromEnv({}).redisClusterNodes).to.equal(undefined);
  });

  it("refuses a seed that is not host:port, naming the variable", () => {
    for (const seeds of ["10.0.0.1", "10.0.0.1:7000,", "redis://10.0.0.1:7000", "10.0.0.1:0", "10.0.0.1:70000", ":7000"]) {
      expect(() => configFromEnv({ REDIS_CLUSTER_NODES: seeds }), seeds).to.throw(ConfigError, /REDIS_CLUSTER_NODES/);
    }
  });

  it("refuses REDIS_URL and REDIS_CLUSTER_NODES together, naming both", () => {
    const both = { REDIS_URL: "redis://127.0.0.1:6379", REDIS_CLUSTER_NODES: "127.0.0.1:7000" };
    expect(() => configFromEnv(both)).to.throw(ConfigError, /REDIS_URL and REDIS_CLUSTER_NODES are both set/);
  });
});

describe("LIVEKIT_URL", () => {
  const full = { LIVEKIT_URL: "wss://livekit.example.com", LIVEKIT_API_KEY: "APIkey", LIVEKIT_API_SECRET: "secret" };

  it("is off when unset, on with LiveKit's three variables", () => {
    expect(configFromEnv({}).liveKit).to.equal(undefined);
    expect(configFromEnv({ ...full, ROLLCALL_LIVEKIT_RECONCILE_SECONDS: "5" }).liveKit).to.deep.equal({
      url: "wss://livekit.example.com",
      apiKey: "APIkey",
      apiSecret: "secret",
      accountSid: undefined,
      reconcileMs: 5000,
    });
    expect(configFromEnv(full).liveKit?.reconcileMs).to.equal(60_000);
  });

  it("refuses a partial or malformed configuration, naming the variable", () => {
    expect(() => configFromEnv({ LIVEKIT_URL: full.LIVEKIT_URL })).to.throw(ConfigError, /LIVEKIT_API_KEY and LIVEKIT_API_SECRET/);
    expect(() => configFromEnv({ LIVEKIT_API_KEY: "APIkey" })).to.throw(ConfigError, /LIVEKIT_API_KEY is set without LIVEKIT_URL/);
    expect(() => configFromEnv({ ...full, LIVEKIT_URL: "livekit.example.com" })).to.throw(ConfigError, /LIVEKIT_URL/);
    expect(() => configFromEnv({ ...full, ROLLCALL_LIVEKIT_ACCOUNT_SID: "AC1" })).to.throw(ConfigError, /ROLLCALL_LIVEKIT_ACCOUNT_SID/);
    expect(() => configFromEnv({ ...full, ROLLCALL_LIVEKIT_RECONCILE_SECONDS: "0" })).to.throw(
      ConfigError,
      /ROLLCALL_LIVEKIT_RECONCILE_SECONDS/,
    );
  });
});

describe("the connection limits", () => {
  it("default to 30 s for headers, 60 s for requests and idle connections, 100 streams", () => {
    expect(configFromEnv({}).connections).to.deep.equal({
      headersTimeoutMs: 30_000,
      requestTimeoutMs: 60_000,
      idleTimeoutMs: 60_000,
      maxConcurrentStreams: 100,
      connectionsPerSecond: 50,
      connectionBurst: 200,
      resetsPerSecond: 100,
      resetBurst: 500,
    });
    expect(configFromEnv({ ROLLCALL_MAX_CONCURRENT_STREAMS: "250" }).connections.maxConcurrentStreams).to.equal(250);
  });

  it("refuses a request timeout shorter than the headers timeout, naming both", () => {
    expect(() => configFromEnv({ ROLLCALL_HEADERS_TIMEOUT_MS: "5000", ROLLCALL_REQUEST_TIMEOUT_MS: "1000" })).to.throw(
      ConfigError,
      /ROLLCALL_REQUEST_TIMEOUT_MS \(1000\) must be at least ROLLCALL_HEADERS_TIMEOUT_MS \(5000\)/,
    );
  });
});

describe("GRPC_PORT", () => {
  it("is off unless set to a port", () => {
    expect(configFromEnv({}).grpcPort).to.equal(undefined);
    expect(configFromEnv({ GRPC_PORT: "off" }).grpcPort).to.equal(undefined);
    expect(configFromEnv({ GRPC_PORT: "50051" }).grpcPort).to.equal(50051);
  });
});
