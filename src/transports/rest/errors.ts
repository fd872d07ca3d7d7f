import type { ErrorReason } from "../../domain/errors.js";

// Twilio's error codes and HTTP statuses for rollcall's error reasons.
const twilioErrors: Record<ErrorReason, { status: number; code: number }> = {
  invalid_parameter: { status: 400, code: 20422 },
  identity_invalid: { status: 400, code: 53200 },
  identity_too_long: { status: 400, code: 53201 },
  identity_invalid_characters: { status: 400, code: 53202 },
  room_name_invalid: { status: 400, code: 53100 },
  room_name_too_long: { status: 400, code: 53101 },
  room_name_invalid_characters: { status: 400, code: 53102 },
  max_participants_out_of_range: { status: 400, code: 53107 },
  timeout_out_of_range: { status: 400, code: 53109 },
  max_participant_duration_out_of_range: { status: 400, code: 53123 },
  page_size_out_of_range: { status: 400, code: 20007 },
  status_invalid: { status: 400, code: 53112 },
  status_callback_invalid: { status: 400, code: 53111 },
  status_callback_method_invalid: { status: 400, code: 53110 },
  track_name_invalid: { status: 400, code: 53301 },
  track_name_too_long: { status: 400, code: 53302 },
  track_name_invalid_characters: { status: 400, code: 53303 },
  track_kind_invalid: { status: 400, code: 20422 },
  subscribe_rules_invalid: { status: 400, code: 53215 },
  room_not_found: { status: 404, code: 20404 },
  participant_not_found: { status: 404, code: 20404 },
  track_not_found: { status: 404, code: 20404 },
  track_name_taken: { status: 400, code: 53304 },
  participant_disconnected: { status: 400, code: 53204 },
  own_track: { status: 400, code: 20422 },
  room_exists: { status: 400, code: 53113 },
  room_completed: { status: 400, code: 53118 },
  room_full: { status: 400, code: 53105 },
  // Watch cursors are an RPC matter; REST has none, but the table is complete.
  cursor_expired: { status: 400, code: 20422 },
};

export function twilioErrorOf(reason: ErrorReason): { status: number; code: number } {
  return twilioErrors[reason];
}

export function errorBody(status: number, code: number, message: string) {
  return { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status };
}

// Request fields named as Twilio's parameters are.
const parameterNames: Record<string, string> = {
  room: "RoomNameOrSid",
  participant: "ParticipantIdentityOrSid",
  rules: "Rules",
};

export function parameterName(field: string): string {
  return parameterNames[field] ?? field.replace(/(^|_)([a-z])/g, (_, __, letter: string) => letter.toUpperCase());
}
