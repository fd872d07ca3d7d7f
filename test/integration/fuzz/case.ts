import type { WireRequest } from "../../support/wire/exchange.js";

// One fuzz case: a request, the protocol to read its reply with, and where
// the rule is sharper than "a client error".

export type Protocol = "rest" | "connect" | "connect-stream" | "grpc" | "grpc-web";

export interface Case {
  name: string;
  protocol: Protocol;
  request: WireRequest;
  // Where the rule is sharper than "a client error".
  status?: number;
  // Why no reply is known to come, if it is a library's doing.
  unanswered?: string;
}
