import type { Config } from "../../src/config.js";
import { emptySharedCluster, emptySharedRedis } from "./fixtures.js";

// The stores an end-to-end suite runs against: the embedded memory store, the
// run's shared redis-server and its shared 3-master Redis Cluster (see
// fixtures.ts), each emptied when the suite starts. `settings` (the store's
// part of the config, for startRollcall) is filled in for a Redis backend
// once its `before` hook ran.
export interface Backend {
  name: string;
  settings: Partial<Config>;
}

export function eachBackend(suite: (backend: Backend) => void): void {
  suite({ name: "memory store", settings: {} });

  const redis: Backend = { name: "redis store", settings: {} };
  describe("with a redis-server", () => {
    before(async () => {
      redis.settings.redisUrl = (await emptySharedRedis()).url;
    });
    suite(redis);
  });

  const cluster: Backend = { name: "redis cluster", settings: {} };
  describe("with a redis cluster", () => {
    before(async function () {
      this.timeout(30_000);
      cluster.settings.redisClusterNodes = (await emptySharedCluster()).nodes;
    });
    suite(cluster);
  });
}
