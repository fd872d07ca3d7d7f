import { Code, ConnectError } from "@connectrpc/connect";
import { expect } from "chai";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { Cluster, type Redis } from "ioredis";
import { ParticipantService } from "../../gen/rollcall/v1/participant_pb.js";
import { RedisStore } from "../../src/store/redis/redis-store.js";
import { connectJsonHttp1 } from "../support/clients.js";
import { roomRecord, testLimits } from "../support/records.js";
import { startRedisCluster, type TestRedisCluster } from "../support/redis-cluster.js";
import { freePort } from "../support/redis-server.js";
import { startRollcall } from "../support/rollcall.js";
import { StoreUnavailableError } from "../../src/domain/errors.js";
import { newSid } from "../../src/operations/sids.js";

function portOf(node: string): number {
  return Number(node.slice(node.lastIndexOf(":") + 1));
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a failure");
}

describe("REDIS_CLUSTER_NODES", () => {
  it("fails to start when no seed answers", async () => {
    const port = await freePort();
    const started = Date.now();
    const error = await failure(RedisStore.connectCluster([`127.0.0.1:${port}`], { commandTimeoutMs: 300, ...testLimits }));
    expect(error).to.be.instanceOf(StoreUnavailableError);
    expect((error as Error).message).to.include(`127.0.0.1:${port}`);
    expect(Date.now() - started).to.be.below(5000);
  });
});

describe("rollcall on a Redis Cluster", function () {
  this.timeout(30_000);
  let cluster: TestRedisCluster;
  before(async () => {
    cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 0 });
  });
  after(async () => cluster?.stop());

  it("names the cluster in its first log line", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
      env: {
        ...process.env,
        PORT: "0",
        GRPC_PORT: "off",
        REDIS_URL: "",
        REDIS_CLUSTER_NODES: cluster.seeds,
        ROLLCALL_CREDENTIALS_FILE: "",
      },
      stdio: ["ignore", "pipe", "inherit"],
    });
    try {
      const lines = createInterface({ input: child.stdout });
      const [first] = (await once(lines, "line")) as [string];
      expect((JSON.parse(first) as { msg: string }).msg).to.equal(`store: Redis Cluster at ${cluster.nodes.join(",")}`);
    } finally {
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      await exited;
    }
  });

  it("ping asks every master: one hung master makes it fail within the command timeout", async () => {
    const store = await RedisStore.connectCluster(cluster.nodes, { commandTimeoutMs: 300, ...testLimits });
    const hung = portOf(cluster.nodes[1]!);
    try {
      await store.ping();
      cluster.signal(hung, "SIGSTOP");
      const started = Date.now();
      expect(await failure(store.ping())).to.be.instanceOf(StoreUnavailableError);
      expect(Date.now() - started).to.be.below(2000);
      cluster.signal(hung, "SIGCONT");
      await store.ping();
    } finally {
      cluster.signal(hung, "SIGCONT");
      await store.close();
    }
  });

  it("a hung cluster fails calls with Unavailable within a bound, and service resumes when it answers", async () => {
    const server = await startRollcall({ redisClusterNodes: cluster.nodes, redisCommandTimeoutMs: 300 });
    const ports = cluster.nodes.map(portOf);
    try {
      const client = connectJsonHttp1(ParticipantService, server.url);
      await client.join({ room: "hung", identity: "before" });
      for (const port of ports) cluster.signal(port, "SIGSTOP");
      const started = Date.now();
      const error = ConnectError.from(await failure(client.get({ room: "hung", participant: "before" })));
      expect(error.code).to.equal(Code.Unavailable);
      expect(Date.now() - started).to.be.below(2000);
      for (const port of ports) cluster.signal(port, "SIGCONT");
      expect((await client.get({ room: "hung", participant: "before" })).participant!.identity).to.equal("before");
    } finally {
      for (const port of ports) cluster.signal(port, "SIGCONT");
      await server.close();
    }
  });

  it("a room whose master refuses writes (out of memory) while its account's master accepts them leaves no claim behind", async () => {
    const store = await RedisStore.connectCluster(cluster.nodes, { commandTimeoutMs: 2000, ...testLimits });
    const admin = new Cluster(cluster.nodes.map((node) => ({ host: "127.0.0.1", port: portOf(node) })));
    const fields = roomRecord();
    const accountSid = fields.accountSid;
    const masterOf = async (key: string) => admin.slots[Number(await admin.cluster("KEYSLOT", key))]![0]!;
    let refusing: Redis | undefined;
    try {
      await admin.ping();
      // A room in a shard whose slot another master serves than the account's directory.
      const accountMaster = await masterOf(`{${accountSid}}`);
      let shard = 0;
      while ((await masterOf(`{${accountSid}:${shard.toString(16)}}`)) === accountMaster) shard++;
      const sid = newSid("RM").slice(0, -1) + shard.toString(16);
      const roomMaster = await masterOf(`{${accountSid}:${shard.toString(16)}}`);
      refusing = admin.nodes("master").find((node) => `${node.options.host}:${node.options.port}` === roomMaster)!;
      await refusing.config("SET", "maxmemory-policy", "noeviction");
      await refusing.config("SET", "maxmemory", "1");

      const error = await failure(store.createRoom({ ...fields, sid, uniqueName: "split" }));
      expect(error).to.be.instanceOf(StoreUnavailableError);
      expect((error as StoreUnavailableError).refusal).to.equal("out_of_memory");
      const account = `rc:{${accountSid}}:`;
      expect(await admin.hgetall(account + "names")).to.deep.equal({});
      expect(await admin.hgetall(account + "pending")).to.deep.equal({});
      expect(await admin.zrange(account + "rooms-by-created:in-progress", "0", "-1")).to.deep.equal([]);
      expect(await admin.zrange(account + "rooms-by-name:in-progress", "0", "-1")).to.deep.equal([]);

      await refusing.config("SET", "maxmemory", "0");
      const created = await store.createRoom({ ...fields, sid, uniqueName: "split" });
      expect(created.kind).to.equal("created");
      expect(await admin.hget(account + "names", "split")).to.equal(sid);
    } finally {
      await refusing?.config("SET", "maxmemory", "0");
      admin.disconnect();
      await store.close();
    }
  });

  // Last: it kills the cluster.
  it("a cluster whose nodes are all gone fails calls fast with Unavailable, without queueing them", async () => {
    const server = await startRollcall({ redisClusterNodes: cluster.nodes, redisCommandTimeoutMs: 300 });
    try {
      const client = connectJsonHttp1(ParticipantService, server.url);
      await client.join({ room: "gone", identity: "before" });
      await Promise.all(cluster.nodes.map((node) => cluster.kill(portOf(node))));
      for (let call = 0; call < 3; call++) {
        const started = Date.now();
        const error = ConnectError.from(await failure(client.join({ room: "gone", identity: `after-${call}` })));
        expect(error.code).to.equal(Code.Unavailable);
        expect(Date.now() - started).to.be.below(3000);
      }
      expect(await failure(server.store.ping())).to.be.instanceOf(StoreUnavailableError);
    } finally {
      await server.close();
    }
  });
});
