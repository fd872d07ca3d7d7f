// The errors of rollcall's domain, typed once. Each transport maps a reason to
// its own protocol (Connect and gRPC codes, Twilio error bodies).

const kindOfReason = {
  invalid_parameter: "invalid_argument",
  identity_invalid: "invalid_argument",
  identity_too_long: "invalid_argument",
  identity_invalid_characters: "invalid_argument",
  room_name_invalid: "invalid_argument",
  room_name_too_long: "invalid_argument",
  room_name_invalid_characters: "invalid_argument",
  max_participants_out_of_range: "invalid_argument",
  timeout_out_of_range: "invalid_argument",
  max_participant_duration_out_of_range: "invalid_argument",
  page_size_out_of_range: "invalid_argument",
  status_invalid: "invalid_argument",
  status_callback_invalid: "invalid_argument",
  status_callback_method_invalid: "invalid_argument",
  track_name_invalid: "invalid_argument",
  track_name_too_long: "invalid_argument",
  track_name_invalid_characters: "invalid_argument",
  track_kind_invalid: "invalid_argument",
  subscribe_rules_invalid: "invalid_argument",
  room_not_found: "not_found",
  participant_not_found: "not_found",
  track_not_found: "not_found",
  track_name_taken: "already_exists",
  participant_disconnected: "failed_precondition",
  own_track: "failed_precondition",
  room_exists: "already_exists",
  room_completed: "failed_precondition",
  room_full: "resource_exhausted",
  cursor_expired: "out_of_range",
} as const;

export type ErrorReason = keyof typeof kindOfReason;
export type ErrorKind = (typeof kindOfReason)[ErrorReason];

export class RollcallError extends Error {
  override readonly name = "RollcallError";
  readonly kind: ErrorKind;

  constructor(
    readonly reason: ErrorReason,
    // What went wrong; for a field at fault, the rule it broke.
    readonly rule: string,
    // The request field at fault; the message starts with its name. (No colon
    // after it: grpc-js clients leave a percent-encoded colon in grpc-message.)
    readonly field?: string,
  ) {
    super(field === undefined ? rule : `${field} ${rule}`);
    this.kind = kindOfReason[reason];
  }
}

export function invalid(reason: ErrorReason, field: string, rule: string): RollcallError {
  return new RollcallError(reason, rule, field);
}

// A caller's text for an error message: quoted, and cut short when long.
export function quote(text: string): string {
  const chars = [...text];
  return JSON.stringify(chars.length > 64 ? chars.slice(0, 64).join("") + "…" : text);
}

// Why a store that answers refuses to write: Redis out of memory under
// noeviction (OOM), a read-only replica (READONLY), unable to persist
// (MISCONF), short of replicas for min-replicas-to-write (NOREPLICAS), or
// losing rollcall's scripts faster than they are loaded again (NOSCRIPT).
export type StoreRefusal = "out_of_memory" | "read_only" | "cannot_persist" | "too_few_replicas" | "scripts_lost";

// The store cannot be reached, did not answer in time, or refuses the call's
// writes (refusal set; the message then names the cause for the caller).
export class StoreUnavailableError extends Error {
  override readonly name = "StoreUnavailableError";
  readonly refusal: StoreRefusal | undefined;

  constructor(message: string, options?: ErrorOptions & { refusal?: StoreRefusal }) {
    super(message, options);
    this.refusal = options?.refusal;
  }

  // What a caller is told, on every protocol.
  get callerMessage(): string {
    return this.refusal === undefined ? "the store did not answer; try again" : this.message;
  }
}

// The caller went away (its call was cancelled or its stream reset): its
// work stops before the next store command.
export class CallCancelledError extends Error {
  override readonly name = "CallCancelledError";
}

export function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CallCancelledError("the call was cancelled");
}
