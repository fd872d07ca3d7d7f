import { invalid, type ErrorReason } from "../domain/errors.js";
import { parseSid } from "./sids.js";

// The naming and range rules of rooms and participants, shared by every operation.

const maxNameLength = 128;
export const defaultPageSize = 50;
const maxPageSize = 1000;

interface NameReasons {
  invalid: ErrorReason;
  tooLong: ErrorReason;
  invalidCharacters: ErrorReason;
}

const identityReasons: NameReasons = {
  invalid: "identity_invalid",
  tooLong: "identity_too_long",
  invalidCharacters: "identity_invalid_characters",
};

const roomNameReasons: NameReasons = {
  invalid: "room_name_invalid",
  tooLong: "room_name_too_long",
  invalidCharacters: "room_name_invalid_characters",
};

// Control characters are refused so that no name can forge the separators of
// the store's indexes, and lone surrogates because they have no UTF-8 form.
function checkName(value: string, field: string, reasons: NameReasons): string {
  if (value === "") throw invalid(reasons.invalid, field, "must not be empty");
  const length = [...value].length;
  if (length > maxNameLength) throw invalid(reasons.tooLong, field, `must be at most ${maxNameLength} characters, got ${length}`);
  if (/\p{Cs}/u.test(value)) throw invalid(reasons.invalidCharacters, field, "must be valid Unicode (it contains a lone surrogate)");
  if (/\p{Cc}/u.test(value)) throw invalid(reasons.invalidCharacters, field, "must not contain control characters");
  return value;
}

const trackNameReasons: NameReasons = {
  invalid: "track_name_invalid",
  tooLong: "track_name_too_long",
  invalidCharacters: "track_name_invalid_characters",
};

// A track name: the same rules as identities (Twilio: at most 128 characters).
export function checkTrackName(value: string, field = "name"): string {
  return checkName(value, field, trackNameReasons);
}

export function checkIdentity(value: string, field = "identity"): string {
  return checkName(value, field, identityReasons);
}

export function checkRoomName(value: string, field = "unique_name"): string {
  checkName(value, field, roomNameReasons);
  if (parseSid("RM", value) !== undefined) throw invalid("room_name_invalid", field, "must not have the form of a room sid");
  return value;
}

export function checkRange(value: number, min: number, max: number, field: string, reason: ErrorReason): number {
  if (!Number.isInteger(value) || value < min || value > max)
    throw invalid(reason, field, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

export function pageSizeOf(value: number | undefined): number {
  if (value === undefined) return defaultPageSize;
  return checkRange(value, 1, maxPageSize, "page_size", "page_size_out_of_range");
}
