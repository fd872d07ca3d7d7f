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

describe("logs and metrics", () => {
  it("default to JSON at info, metrics on the main port", () => {
    expect(configFromEnv({})).to.include({ logLevel: "info", logFormat: "json", metricsEnabled: true, metricsPort: undefined });
    expect(
      configFromEnv({
        ROLLCALL_LOG_LEVEL: "silent",
        ROLLCALL_LOG_FORMAT: "pretty",
        ROLLCALL_METRICS: "off",
        ROLLCALL_METRICS_PORT: "9464",
      }),
    ).to.include({ logLevel: "silent", logFormat: "pretty", metricsEnabled: false, metricsPort: 9464 });
  });

  it("refuses unknown values, naming the variable and what it takes", () => {
    expect(() => configFromEnv({ ROLLCALL_LOG_LEVEL: "verbose" })).to.throw(ConfigError, /ROLLCALL_LOG_LEVEL must be one of trace, debug/);
    expect(() => configFromEnv({ ROLLCALL_LOG_FORMAT: "text" })).to.throw(ConfigError, /ROLLCALL_LOG_FORMAT must be one of json, pretty/);
    expect(() => configFromEnv({ ROLLCALL_METRICS: "yes" })).to.throw(ConfigError, /ROLLCALL_METRICS must be on or off/);
    expect(() => configFromEnv({ ROLLCALL_METRICS_PORT: "99999" })).to.throw(ConfigError, /ROLLCALL_METRICS_PORT must be an integer/);
  });
});
