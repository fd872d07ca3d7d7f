import type { Config } from "../../src/config.js";
import { startRedisCluster, type TestRedisCluster } from "./redis-cluster.js";
import { startRedis, type TestRedis } from "./redis-server.js";

// The stores an end-to-end suite runs against: the embedded memory store, a
// throwaway redis-server and a throwaway 3-master Redis Cluster. `settings`
// (the store's part of the config, for startRollcall) is filled in for a
// Redis backend once its `before` hook ran.
export interface Backend {
  name: string;
  settings: Partial<Config>;
}

export function eachBackend(suite: (backend: Backend) => void): void {
  suite({ name: "memory store", settings: {} });

  const redis: Backend = { name: "redis store", settings: {} };
  describe("with a redis-server", () => {
    let server: TestRedis | undefined;
    before(async () => {
      server = await startRedis();
      redis.settings.redisUrl = server.url;
    });
    after(async () => server?.stop());
    suite(redis);
  });

  const cluster: Backend = { name: "redis cluster", settings: {} };
  describe("with a redis cluster", () => {
    let nodes: TestRedisCluster | undefined;
    before(async function () {
      this.timeout(30_000);
      nodes = await startRedisCluster({ masters: 3, replicasPerMaster: 0 });
      cluster.settings.redisClusterNodes = nodes.nodes;
    });
    after(async () => nodes?.stop());
    suite(cluster);
  });
}
