import { createHmac } from "node:crypto";
import { durationSeconds } from "../operations/duration.js";
import type { ChangeEvent } from "../domain/records.js";

// The status callback Twilio sends for a room event: its form parameters and
// its X-Twilio-Signature.

// The events Twilio sends a room's status callback for; other events of the
// change log (participant-anonymized, subscriptions, subscribe rules) have none.
const trackEvents = new Set(["track-added", "track-removed", "track-enabled", "track-disabled"]);
const participantEvents = new Set(["participant-connected", "participant-disconnected", ...trackEvents]);
const callbackEvents = new Set(["room-created", "room-ended", ...participantEvents]);

// Twilio's parameters for an event, or undefined when Twilio sends none for it.
export function callbackParameters(event: ChangeEvent): Record<string, string> | undefined {
  if (!callbackEvents.has(event.type)) return undefined;
  const { room, participant } = event;
  const parameters: Record<string, string> = {
    AccountSid: event.accountSid,
    RoomName: room.uniqueName,
    RoomSid: room.sid,
    RoomStatus: room.status,
    RoomType: room.type,
    StatusCallbackEvent: event.type,
    Timestamp: new Date(event.time).toISOString(),
    SequenceNumber: String(event.sequence),
  };
  if (participantEvents.has(event.type)) {
    parameters.ParticipantSid = participant!.sid;
    parameters.ParticipantIdentity = participant!.identity;
    parameters.ParticipantStatus = participant!.status;
  }
  if (trackEvents.has(event.type)) {
    parameters.TrackSid = event.track!.sid;
    parameters.TrackKind = event.track!.kind;
  }
  if (event.type === "participant-disconnected")
    parameters.ParticipantDuration = String(durationSeconds(participant!.startTime, participant!.endTime) ?? 0);
  if (event.type === "room-ended") parameters.RoomDuration = String(durationSeconds(room.dateCreated, room.endTime) ?? 0);
  return parameters;
}

// Twilio's request signature: base64 of HMAC-SHA1, keyed with the account's
// auth token, of the URL followed by each POST parameter's name and value in
// name order (none for GET, whose parameters are in the URL).
export function twilioSignature(authToken: string, url: string, postParameters: Record<string, string>): string {
  const data = Object.keys(postParameters)
    .sort()
    .reduce((text, name) => text + name + postParameters[name], url);
  return createHmac("sha1", authToken).update(data, "utf8").digest("base64");
}

// The request for an event: the URL to request (for GET, with the parameters
// added to its query), the body (for POST) and the signature.
export function callbackRequest(
  url: string,
  method: string,
  parameters: Record<string, string>,
  authToken: string,
): { url: string; method: "GET" | "POST"; body: string | undefined; signature: string } {
  const form = new URLSearchParams(parameters).toString();
  if (method === "GET") {
    const withQuery = url + (url.includes("?") ? (url.endsWith("?") || url.endsWith("&") ? "" : "&") : "?") + form;
    return { url: withQuery, method: "GET", body: undefined, signature: twilioSignature(authToken, withQuery, {}) };
  }
  return { url, method: "POST", body: form, signature: twilioSignature(authToken, url, parameters) };
}
