import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { expect } from "chai";
import { ParticipantService, ParticipantStatus, type Participant } from "../../gen/rollcall/v1/participant_pb.js";
import { RoomService } from "../../gen/rollcall/v1/room_pb.js";
import { eachBackend } from "../support/backends.js";
import { collect, connectBinaryHttp2, connectJsonHttp1 } from "../support/clients.js";
import { startRollcall } from "../support/rollcall.js";

const sidsOf = (pages: { participants: Participant[] }[]) => pages.flatMap((page) => page.participants.map((p) => p.sid));

eachBackend((backend) => {
  describe(`concurrency (${backend.name})`, () => {
    let server: Awaited<ReturnType<typeof startRollcall>>;
    let participants: Client<typeof ParticipantService>;
    let rooms: Client<typeof RoomService>;

    before(async () => {
      server = await startRollcall({ ...backend.settings, maxParticipants: 5000 });
      participants = connectBinaryHttp2(ParticipantService, server.url);
      rooms = connectJsonHttp1(RoomService, server.url);
    });
    after(async () => server.close());

    it("50 concurrent joins with one identity leave exactly one present and 49 disconnected", async () => {
      const room = `hot-identity-${Date.now()}`;
      const joins = await Promise.all(Array.from({ length: 50 }, () => participants.join({ room, identity: "same" })));
      const joinedSids = joins.map((j) => j.participant!.sid);
      expect(new Set(joinedSids).size).to.equal(50);
      expect(new Set(joins.map((j) => j.participant!.roomSid)).size).to.equal(1);
      expect(joins.filter((j) => j.displaced !== undefined)).to.have.length(49);

      const present = sidsOf(await collect(participants.list({ room, identity: "same" })));
      const gone = sidsOf(await collect(participants.list({ room, identity: "same", status: ParticipantStatus.DISCONNECTED })));
      expect(present).to.have.length(1);
      expect(gone).to.have.length(49);
      expect([...present, ...gone].sort()).to.deep.equal([...joinedSids].sort());
      expect((await participants.get({ room, participant: "same" })).participant!.sid).to.equal(present[0]);
    });

    it("concurrent joins never push a room past max_participants", async () => {
      const room = (await rooms.create({ uniqueName: `capped-${Date.now()}`, maxParticipants: 10 })).room!;
      const outcomes = await Promise.allSettled(
        Array.from({ length: 40 }, (_, i) => participants.join({ room: room.sid, identity: `user-${i}` })),
      );
      const joined = outcomes.filter((o) => o.status === "fulfilled");
      const refused = outcomes.flatMap((o) => (o.status === "rejected" ? [ConnectError.from(o.reason).code] : []));
      expect(joined).to.have.length(10);
      expect(refused).to.deep.equal(Array(30).fill(Code.ResourceExhausted));
      expect(sidsOf(await collect(participants.list({ room: room.sid })))).to.have.length(10);
    });

    it("concurrent joins to a new name all land in one ad-hoc room", async () => {
      const room = `adhoc-${Date.now()}`;
      const joins = await Promise.all(Array.from({ length: 20 }, (_, i) => participants.join({ room, identity: `u${i}` })));
      expect(new Set(joins.map((j) => j.participant!.roomSid)).size).to.equal(1);
      expect(sidsOf(await collect(participants.list({ room })))).to.have.length(20);
    });

    it("pages stay stable while participants join during a List: nothing repeats, nothing vanishes", async () => {
      const room = (await rooms.create({ uniqueName: `paging-${Date.now()}`, maxParticipants: 1000 })).room!.sid;
      const before: string[] = [];
      for (let i = 0; i < 100; i++) before.push((await participants.join({ room, identity: `early-${i}` })).participant!.sid);
      const streamed: Participant[] = [];
      let late = 0;
      for await (const page of participants.list({ room, pageSize: 10 })) {
        streamed.push(...page.participants);
        await Promise.all(Array.from({ length: 5 }, () => participants.join({ room, identity: `late-${late++}` })));
      }
      const sids = streamed.map((p) => p.sid);
      expect(new Set(sids).size, "no participant repeats").to.equal(sids.length);
      expect(sids.slice(0, 100), "every earlier participant once, in order").to.deep.equal(before);
      const starts = streamed.map((p) => Number(p.startTime!.seconds) * 1e9 + p.startTime!.nanos);
      for (let i = 1; i < starts.length; i++) expect(starts[i - 1]!, `start times never go back, at ${i}`).to.be.at.most(starts[i]!);
    });
  });
});
