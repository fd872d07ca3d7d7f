import { expect } from "chai";
import { callbackParameters } from "../../src/callbacks/twilio-form.js";
import type { ChangeEvent, ParticipantRecord, TrackRecord } from "../../src/domain/records.js";
import { roomRecord, t0 } from "../support/records.js";

// Twilio's status callback parameters for track events.
describe("status callback parameters of track events", () => {
  const room = roomRecord();
  const participant: ParticipantRecord = {
    sid: "PA" + "a".repeat(32),
    roomSid: room.sid,
    accountSid: room.accountSid,
    identity: "alice",
    status: "connected",
    startTime: t0,
    dateUpdated: t0,
    endTime: undefined,
    sequence: 2,
  };
  const track: TrackRecord = {
    sid: "MT" + "b".repeat(32),
    roomSid: room.sid,
    accountSid: room.accountSid,
    participantSid: participant.sid,
    name: "mic",
    kind: "audio",
    enabled: true,
    dateCreated: t0,
    dateUpdated: t0,
    sequence: 3,
  };
  const event = (type: ChangeEvent["type"]): ChangeEvent => ({
    accountSid: room.accountSid,
    roomSid: room.sid,
    sequence: 3,
    type,
    time: t0,
    reason: undefined,
    room,
    participant,
    track,
  });

  for (const type of ["track-added", "track-removed", "track-enabled", "track-disabled"] as const) {
    it(`${type} carries TrackSid, TrackKind and the participant`, () => {
      expect(callbackParameters(event(type))).to.deep.include({
        StatusCallbackEvent: type,
        TrackSid: track.sid,
        TrackKind: "audio",
        ParticipantSid: participant.sid,
        ParticipantIdentity: "alice",
        ParticipantStatus: "connected",
        RoomSid: room.sid,
      });
    });
  }

  for (const type of ["track-subscribed", "track-unsubscribed", "subscribe-rules-updated"] as const) {
    it(`${type} sends no callback (Twilio has none)`, () => {
      expect(callbackParameters(event(type))).to.equal(undefined);
    });
  }
});
