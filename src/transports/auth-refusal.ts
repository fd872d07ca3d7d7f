import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { Code, ConnectError } from "@connectrpc/connect";
import { credentialsRequired, type Authentication } from "./basic-auth.js";

// Unauthenticated, or resource exhausted with a google.rpc.RetryInfo detail
// (the standard retry hint of gRPC and Connect errors) when the caller failed
// too often.
export function refusalError(refusal: Exclude<Authentication, { accountSid: string }>): ConnectError {
  if (refusal.refused === "credentials") return new ConnectError(credentialsRequired, Code.Unauthenticated);
  const seconds = Math.ceil(refusal.retryAfterMs / 1000);
  const error = new ConnectError(`too many failed authentications; retry after ${seconds} s`, Code.ResourceExhausted);
  error.details.push({ type: "google.rpc.RetryInfo", value: retryInfo(refusal.retryAfterMs) });
  return error;
}

// google.rpc.RetryInfo { google.protobuf.Duration retry_delay = 1; }
function retryInfo(ms: number): Uint8Array {
  const duration = new BinaryWriter().tag(1, WireType.Varint).int64(Math.floor(ms / 1000));
  if (ms % 1000 !== 0) duration.tag(2, WireType.Varint).int32((ms % 1000) * 1_000_000);
  return new BinaryWriter().tag(1, WireType.LengthDelimited).bytes(duration.finish()).finish();
}
