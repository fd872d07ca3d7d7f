import { expect } from "chai";
import { readFileSync } from "node:fs";
import { ConfigError, configFromEnv, settings } from "../../src/config.js";

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

describe("the settings table", () => {
  const liveKitOn = { LIVEKIT_URL: "wss://livekit.example.com", LIVEKIT_API_KEY: "APIkey", LIVEKIT_API_SECRET: "secret" };

  it("is every variable configFromEnv reads, and configFromEnv reads every one", () => {
    const read = new Set<string>();
    const recording = (env: Record<string, string>) =>
      new Proxy(env, {
        get: (target, name) => {
          if (typeof name === "string") read.add(name);
          return target[name as string];
        },
      });
    configFromEnv(recording({}));
    configFromEnv(recording(liveKitOn));
    expect([...read].sort()).to.deep.equal(Object.keys(settings).sort());
  });

  it("gives configFromEnv its defaults", () => {
    const config = configFromEnv({});
    expect([config.port, config.grpcPort, config.host, config.maxRequestBytes, config.callbackRetryForMs]).to.deep.equal([
      Number(settings.PORT.default),
      undefined,
      settings.HOST.default,
      Number(settings.ROLLCALL_MAX_REQUEST_BYTES.default),
      3_600_000,
    ]);
    expect(configFromEnv(liveKitOn).liveKit?.reconcileMs).to.equal(Number(settings.ROLLCALL_LIVEKIT_RECONCILE_SECONDS.default) * 1000);
  });

  it("is what the README's Configuration table lists, with the same defaults", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    const section = readme.slice(readme.indexOf("## Configuration"), readme.indexOf("\n## ", readme.indexOf("## Configuration") + 1));
    const documented = new Map<string, string | undefined>();
    for (const row of section.split("\n").filter((line) => line.startsWith("| `"))) {
      const [names, defaults] = row
        .split("|")
        .slice(1, 3)
        .map((cell) => [...cell.matchAll(/`([^`]+)`/g)].map((match) => match[1]!));
      names!.forEach((name, i) => documented.set(name, defaults!.length === 0 ? undefined : defaults![i]));
    }
    expect(Object.fromEntries(documented)).to.deep.equal(
      Object.fromEntries(Object.entries(settings).map(([name, s]) => [name, s.default])),
    );
  });
});

describe("REDIS_URL", () => {
  it("takes redis:// and rediss:// URLs, with or without a database", () => {
    for (const url of [
      "redis://127.0.0.1:6379",
      "redis://:pw@redis.internal:6380/3",
      "rediss://user:pw@10.0.0.1/0",
      "redis://[::1]:6379/",
    ]) {
      expect(configFromEnv({ REDIS_URL: url }).redisUrl, url).to.equal(url);
    }
  });

  it("refuses another scheme, a URL without a host, and a database that is no number, naming the variable and hiding the password", () => {
    for (const [url, problem] of [
      [
        "http://127.0.0.1:6379",
        /^REDIS_URL must be redis:\/\/\[\[user\]:password@\]host\[:port\]\[\/db\] or rediss:\/\/\.\.\. for TLS, got "http:\/\/127\.0\.0\.1:6379\/"$/,
      ],
      ["127.0.0.1:6379", /^REDIS_URL must be redis:\/\//],
      ["redis://", /^REDIS_URL must be redis:\/\//],
      [
        "redis://:hunter2@127.0.0.1:6379/zero",
        /^REDIS_URL's database, after the port, must be a number such as \/0; got "redis:\/\/:\*\*\*@127\.0\.0\.1:6379\/zero"$/,
      ],
    ] as const) {
      expect(() => configFromEnv({ REDIS_URL: url }), url).to.throw(ConfigError, problem);
    }
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
