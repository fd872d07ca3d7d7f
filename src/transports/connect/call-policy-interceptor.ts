import { createContextKey, type Interceptor } from "@connectrpc/connect";
import { accountKey } from "../../services/account.js";
import type { Call, CallPolicy } from "../call-policy.js";

// The call record the node handler started for this request.
export const callKey = createContextKey<Call | undefined>(undefined, { description: "the call policy's record of this call" });

// The call policy inside connect-node: authentication, the deadline (connect
// aborts the call's signal at it) and the mapping of errors, for unary calls
// and for errors raised while a response streams. The node handler
// (node-handler.ts) starts the call and ends it when the answer is written.
export function callPolicyInterceptor(policy: CallPolicy): Interceptor {
  return (next) => async (req) => {
    const call = req.contextValues.get(callKey)!;
    const res = await policy.run(
      call,
      () => {
        const account = policy.authenticate(call, req.service.typeName, req.header.get("authorization"), call.peer);
        if (account !== undefined) req.contextValues.set(accountKey, account);
        return next(req);
      },
      req.signal,
    );
    if (!res.stream) return res;
    call.code = undefined;
    return { ...res, message: streamed(res.message, policy, call) };
  };
}

async function* streamed<T>(messages: AsyncIterable<T>, policy: CallPolicy, call: Call): AsyncIterable<T> {
  try {
    yield* messages;
    call.code = "ok";
  } catch (error) {
    throw policy.errorOf(call, error);
  }
}
