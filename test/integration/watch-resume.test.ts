import type { Client } from "@connectrpc/connect";
import { expect } from "chai";
import { EventService, type Event } from "../../gen/rollcall/v1/event_pb.js";
import { ParticipantService } from "../../gen/rollcall/v1/participant_pb.js";
import { RoomService } from "../../gen/rollcall/v1/room_pb.js";
import { eachBackend } from "../support/backends.js";
import { connectBinaryHttp2 } from "../support/clients.js";
import { Random } from "../support/random.js";
import { startRollcall } from "../support/rollcall.js";
import { watchUntil } from "../support/watch.js";

// A watcher that reconnects from its last cursor at random points misses
// nothing and sees nothing twice: the concatenation of what it read is the log.
eachBackend((backend) => {
  describe(`Watch resumes from any cursor (${backend.name})`, function () {
    this.timeout(120_000);
    let server: Awaited<ReturnType<typeof startRollcall>>;
    let events: Client<typeof EventService>;
    let participants: Client<typeof ParticipantService>;
    let rooms: Client<typeof RoomService>;

    before(async () => {
      server = await startRollcall({ ...backend.settings, maxParticipants: 1000 });
      events = connectBinaryHttp2(EventService, server.url);
      participants = connectBinaryHttp2(ParticipantService, server.url);
      rooms = connectBinaryHttp2(RoomService, server.url);
    });
    after(async () => server.close());

    it("reconnects at about 1 000 random points during 5 000 changes: no gap, no repeat", async () => {
      const seed = Number(process.env.WATCH_SEED ?? 20261201);
      const room = (await rooms.create({ uniqueName: `resume-${Date.now()}`, maxParticipants: 1000 })).room!.sid;
      const changes = 5000;
      const seen: Event[] = [];
      let cursor = (await watchUntil(events, { room }, () => true)).cursor;

      let made = 0;
      let writing = true;
      const writer = (async () => {
        // Joins and leaves of 40 identities: a join of a present identity is
        // two events (the replaced one leaves), a leave of a present one is one.
        const random = new Random(seed);
        const present = new Set<string>();
        while (made < changes) {
          const identity = `user-${random.int(40)}`;
          if (present.has(identity) && random.chance(0.5)) {
            await participants.leave({ room, participant: identity });
            present.delete(identity);
            made += 1;
          } else {
            await participants.join({ room, identity });
            made += present.has(identity) ? 2 : 1;
            present.add(identity);
          }
        }
      })().finally(() => (writing = false));

      // Reconnect after 1 to 6 events, from the last cursor read. Each cancel
      // resets an HTTP/2 stream, and Node closes a session that resets
      // streams faster than it allows (its rapid-reset defence): a client
      // that reconnects a thousand times takes a new connection now and then.
      const random = new Random(seed + 1);
      let reconnects = 0;
      let client = events;
      while (writing || seen.length < made) {
        if (reconnects % 200 === 199) client = connectBinaryHttp2(EventService, server.url);
        const take = 1 + random.int(6);
        const read = await watchUntil(
          client,
          { room, after: cursor },
          (received) => received.length >= take || (!writing && seen.length + received.length >= made),
        );
        seen.push(...read.received);
        cursor = read.cursor;
        reconnects++;
      }
      await writer;
      expect(reconnects).to.be.at.least(changes / 10);
      // The room was created before the first watch began: sequence 1 is its creation.
      expect(seen.map((event) => Number(event.sequence))).to.deep.equal(Array.from({ length: seen.length }, (_, i) => i + 2));
      expect(seen.length).to.equal(made);
    });

    // The memory store lives in one process: only Redis has instances to share it.
    if (backend.name === "memory store") return;

    it("two instances on one store: changes through one, a watch on the other sees every one", async () => {
      const other = await startRollcall(backend.settings);
      try {
        const room = (await rooms.create({ uniqueName: `two-${Date.now()}`, maxParticipants: 50 })).room!.sid;
        const start = await watchUntil(connectBinaryHttp2(EventService, other.url), { room }, () => true);
        const joins = Array.from({ length: 50 }, (_, i) => participants.join({ room, identity: `p-${i}` }));
        await Promise.all(joins);
        const read = await watchUntil(
          connectBinaryHttp2(EventService, other.url),
          { room, after: start.cursor },
          (received) => received.length >= 50,
        );
        expect(read.received.map((event) => Number(event.sequence))).to.deep.equal(Array.from({ length: 50 }, (_, i) => i + 2));
      } finally {
        await other.close();
      }
    });
  });
});
