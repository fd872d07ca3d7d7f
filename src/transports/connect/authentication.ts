import type { DescService } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { Code, ConnectError, createContextKey, type Interceptor } from "@connectrpc/connect";
import { credentialsRequired, type Authentication, type BasicAuth } from "../basic-auth.js";
import { accountKey } from "../../services/account.js";

// The IP address of the caller's connection, set by the node handler's
// contextValues: failed authentications are counted per address.
export const peerAddressKey = createContextKey<string | undefined>(undefined, { description: "IP address of the caller" });

// Every RPC carries HTTP Basic credentials in its authorization header (gRPC
// metadata alike); the account they name is the one the call acts for. Calls
// to the public services (health, reflection) act for no account and pass
// unchecked: probes and tools that list services send no credentials.
export function authenticationInterceptor(auth: BasicAuth, publicServices: DescService[]): Interceptor {
  const unchecked = new Set(publicServices.map((service) => service.typeName));
  return (next) => async (req) => {
    if (unchecked.has(req.service.typeName)) return next(req);
    const authentication = auth.authenticate(req.header.get("authorization"), req.contextValues.get(peerAddressKey));
    if ("refused" in authentication) throw refusalError(authentication);
    req.contextValues.set(accountKey, authentication.accountSid);
    return next(req);
  };
}

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
