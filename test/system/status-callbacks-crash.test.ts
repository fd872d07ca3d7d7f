import { expect } from "chai";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { ParticipantService } from "../../gen/rollcall/v1/participant_pb.js";
import { RoomService } from "../../gen/rollcall/v1/room_pb.js";
import { roomKeys } from "../../src/store/redis/keys.js";
import { CallbackReceiver } from "../support/callback-receiver.js";
import { connectBinaryHttp2 } from "../support/clients.js";
import { startRedis, type TestRedis } from "../support/redis-server.js";
import { startRollcallProcess, stopProcess, type RollcallProcess } from "../support/rollcall-process.js";
import { testAccount } from "../support/rollcall.js";
import { waitFor } from "../support/wait.js";

// The instance delivering callbacks dies without a word (SIGKILL: it hands no
// lease back); another instance takes its shards when their leases lapse and
// delivers everything, in order, repeating at most what was cut off.
describe("status callbacks when the delivering instance is killed", function () {
  this.timeout(90_000);
  let redis: TestRedis;
  let scratch: string;
  const children: ChildProcess[] = [];

  beforeEach(async () => {
    redis = await startRedis(["--appendonly", "yes"]);
    scratch = mkdtempSync(join(tmpdir(), "rollcall-callbacks-"));
  });
  afterEach(async () => {
    for (const child of children.splice(0)) await stopProcess(child);
    await redis.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  async function instance(credentials: string): Promise<RollcallProcess> {
    const started = await startRollcallProcess({
      REDIS_URL: redis.url,
      ROLLCALL_CREDENTIALS_FILE: credentials,
      ROLLCALL_CALLBACK_LEASE_MS: "1500",
      ROLLCALL_CALLBACK_BACKOFF_MS: "50",
      ROLLCALL_CALLBACK_BACKOFF_MAX_MS: "200",
    });
    children.push(started.child);
    return started;
  }

  it("delivers every event of every room, in order, after a SIGKILL of the instance that delivered", async () => {
    const receiver = await CallbackReceiver.start(testAccount.token);
    try {
      const credentials = join(scratch, "credentials.json");
      writeFileSync(credentials, JSON.stringify({ accounts: [{ sid: testAccount.sid, auth_token: testAccount.token }] }));
      // The first instance takes every shard's lease; the second waits.
      const first = await instance(credentials);
      await waitFor(() => first.output().includes("delivering for 16 of 16"), {
        timeoutMs: 10_000,
        what: "the first instance to hold every lease",
      });
      const second = await instance(credentials);
      const rooms = connectBinaryHttp2(RoomService, second.url);
      const participants = connectBinaryHttp2(ParticipantService, second.url);
      const sids: string[] = [];
      for (let r = 0; r < 6; r++) sids.push((await rooms.create({ uniqueName: `crash-${r}`, statusCallback: receiver.url() })).room!.sid);
      const change = async (i: number) => participants.join({ room: sids[i % sids.length]!, identity: `p-${i % 9}` });
      for (let i = 0; i < 30; i++) await change(i);
      await waitFor(() => receiver.received.length >= 10, { timeoutMs: 10_000, what: "the first callbacks" });
      first.child.kill("SIGKILL");
      for (let i = 30; i < 90; i++) await change(i);
      // Each room's log length, read from Redis: every event must arrive.
      const admin = new Redis(redis.url);
      const logLength = new Map<string, number>();
      try {
        for (const sid of sids) logLength.set(sid, Number(await admin.hget(roomKeys(testAccount.sid, sid).room, "log_sequence")));
      } finally {
        admin.disconnect();
      }
      // Distinct 2xx sequences in arrival order: a callback cut off by the
      // kill may be sent twice, one right after the other, and nothing else.
      const distinct = (sid: string) => receiver.delivered(sid).filter((n, i, all) => i === 0 || n !== all[i - 1]);
      await waitFor(() => sids.every((sid) => distinct(sid).length >= logLength.get(sid)!), {
        timeoutMs: 30_000,
        what: "every room's callbacks",
      });
      for (const sid of sids) {
        expect(distinct(sid), sid).to.deep.equal(Array.from({ length: logLength.get(sid)! }, (_, i) => i + 1));
        expect(
          receiver.of(sid).every((callback) => callback.valid),
          `${sid}: every request signed`,
        ).to.equal(true);
      }
    } finally {
      await receiver.stop();
    }
  });
});
