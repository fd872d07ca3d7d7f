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
