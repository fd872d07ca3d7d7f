import type { DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { credentialsRequired, type BasicAuth } from "../basic-auth.js";
import { accountKey } from "../../services/account.js";

// Every RPC carries HTTP Basic credentials in its authorization header (gRPC
// metadata alike); the account they name is the one the call acts for. Calls
// to the public services (health, reflection) act for no account and pass
// unchecked: probes and tools that list services send no credentials.
export function authenticationInterceptor(auth: BasicAuth, publicServices: DescService[]): Interceptor {
  const unchecked = new Set(publicServices.map((service) => service.typeName));
  return (next) => async (req) => {
    if (unchecked.has(req.service.typeName)) return next(req);
    const accountSid = auth.accountOf(req.header.get("authorization"));
    if (accountSid === undefined) {
      throw new ConnectError(credentialsRequired, Code.Unauthenticated);
    }
    req.contextValues.set(accountKey, accountSid);
    return next(req);
  };
}
