import { RollcallError } from "../domain/errors.js";
import type { ParticipantOperations } from "../operations/participants.js";
import type { RoomOperations } from "../operations/rooms.js";
import type { LiveKitRoomState, Store } from "../store/store.js";

// LiveKit's rooms and participants mirrored into rollcall's, through the
// operations, for one account: what webhooks report and what reconciliation
// finds. LiveKit sids (RM_…, PA_…) are not rollcall sids; the store keeps,
// per LiveKit room, the rollcall room mirroring it, which rollcall
// participant each LiveKit participant sid became ("" once it left) and
// whether the LiveKit room finished. That lets events arriving out of order
// be judged: a left for an older connection of an identity never
// disconnects a newer one, a joined after its left or after the room
// finished is ignored, and a room_started after room_finished brings nothing
// back.

export interface LiveKitRoomRef {
  sid: string;
  name: string;
}

export interface LiveKitParticipantRef {
  sid: string;
  identity: string;
}

export type MappingOutcome = "applied" | "ignored";

// How long the bridge remembers a LiveKit room after its last change (it is
// refreshed by every change; rooms last at most ROLLCALL_MAX_ROOM_HOURS).
export const liveKitStateTtlMs = 7 * 86_400_000;

export class LiveKitMirror {
  // Changes to one LiveKit room are applied one at a time in this process.
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(
    private readonly store: Store,
    private readonly rooms: RoomOperations,
    private readonly participants: ParticipantOperations,
    readonly accountSid: string,
  ) {}

  // Runs `change` after the changes to the same LiveKit room already queued.
  serialized<T>(liveKitRoomSid: string, change: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(liveKitRoomSid) ?? Promise.resolve();
    const next = previous.then(change, change);
    const settled = next.catch(() => undefined);
    this.queues.set(liveKitRoomSid, settled);
    void settled.then(() => {
      if (this.queues.get(liveKitRoomSid) === settled) this.queues.delete(liveKitRoomSid);
    });
    return next;
  }

  state(liveKitRoomSid: string): Promise<LiveKitRoomState | undefined> {
    return this.store.getLiveKitRoom(this.accountSid, liveKitRoomSid);
  }

  // room_started: the in-progress rollcall room mirroring it (the room of
  // that unique name when one exists); undefined once the LiveKit room finished.
  async roomStarted(room: LiveKitRoomRef): Promise<string | undefined> {
    const state = await this.state(room.sid);
    if (state?.finished) return undefined;
    if (state?.roomSid !== undefined) {
      const mirrored = await this.store.getRoom(this.accountSid, state.roomSid);
      if (mirrored?.status === "in-progress") return mirrored.sid;
    }
    // Unmapped, or its rollcall room ended on its own (an ad-hoc room ends
    // with its last participant) while the LiveKit room lives on.
    const found = await this.rooms.getOrCreate(this.accountSid, room.name);
    await this.store.updateLiveKitRoom(this.accountSid, room.sid, { roomSid: found.sid }, liveKitStateTtlMs);
    return found.sid;
  }

  // participant_joined: a join (newest wins), unless this LiveKit
  // participant was seen before (a repeat, or its left came first) or the
  // room finished.
  // `listed`: LiveKit lists it as present now (reconciliation), which
  // outweighs anything the bridge recorded about that sid.
  async participantJoined(room: LiveKitRoomRef, participant: LiveKitParticipantRef, listed = false): Promise<MappingOutcome> {
    const state = await this.state(room.sid);
    if (state?.finished || (!listed && state?.participants.has(participant.sid))) return "ignored";
    for (let attempt = 1; ; attempt++) {
      const roomSid = await this.roomStarted(room);
      if (roomSid === undefined) return "ignored";
      try {
        const joined = await this.participants.join(this.accountSid, roomSid, participant.identity);
        await this.store.updateLiveKitRoom(
          this.accountSid,
          room.sid,
          { participants: { [participant.sid]: joined.participant.sid } },
          liveKitStateTtlMs,
        );
        return "applied";
      } catch (error) {
        // The mirroring room ended between finding and joining it: mirror again.
        if (error instanceof RollcallError && error.reason === "room_completed" && attempt < 2) continue;
        throw error;
      }
    }
  }

  // participant_left, participant_connection_aborted: that connection
  // disconnected (reason left), never another one of the same identity.
  async participantLeft(room: LiveKitRoomRef, participant: LiveKitParticipantRef): Promise<MappingOutcome> {
    const state = await this.state(room.sid);
    const mapped = state?.participants.get(participant.sid);
    await this.store.updateLiveKitRoom(this.accountSid, room.sid, { participants: { [participant.sid]: "" } }, liveKitStateTtlMs);
    if (mapped === "" || state?.roomSid === undefined) return "ignored";
    let sid = mapped;
    if (sid === undefined) {
      // Its joined was never applied (lost, or in flight elsewhere): the
      // present participant of the identity, unless it is known to be
      // another LiveKit connection.
      const present = await this.store.findPresentParticipant(this.accountSid, state.roomSid, participant.identity);
      if (present === undefined || [...state.participants.values()].includes(present.sid)) return "ignored";
      sid = present.sid;
    }
    const before = await this.store.getParticipant(this.accountSid, state.roomSid, sid);
    if (before === undefined || before.status === "disconnected") return "ignored";
    await this.participants.leave(this.accountSid, state.roomSid, sid);
    return "applied";
  }

  // Reconciliation: a present rollcall participant LiveKit no longer lists.
  async disconnectGone(room: LiveKitRoomRef, roomSid: string, sid: string, liveKitSid: string | undefined): Promise<boolean> {
    if (liveKitSid !== undefined)
      await this.store.updateLiveKitRoom(this.accountSid, room.sid, { participants: { [liveKitSid]: "" } }, liveKitStateTtlMs);
    const before = await this.store.getParticipant(this.accountSid, roomSid, sid);
    if (before === undefined || before.status === "disconnected") return false;
    await this.participants.leave(this.accountSid, roomSid, sid);
    return true;
  }

  // room_finished: marked finished first (so nothing resurrects it and the
  // bridge does not ask LiveKit to delete it), then the room completed.
  async roomFinished(room: LiveKitRoomRef): Promise<MappingOutcome> {
    const state = await this.state(room.sid);
    await this.store.updateLiveKitRoom(this.accountSid, room.sid, { finished: true }, liveKitStateTtlMs);
    if (state?.roomSid === undefined) return "ignored";
    const mirrored = await this.store.getRoom(this.accountSid, state.roomSid);
    if (mirrored?.status !== "in-progress") return "ignored";
    await this.rooms.update(this.accountSid, state.roomSid, "completed");
    return "applied";
  }
}
