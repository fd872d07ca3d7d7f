import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { CallbackFailureSchema, CallbackService, CallbackServiceListFailuresResponseSchema } from "../../gen/rollcall/v1/callback_pb.js";
import type { CallbackOperations } from "../operations/callbacks.js";
import { accountOf } from "./account.js";

export function callbackService(callbacks: CallbackOperations): ServiceImpl<typeof CallbackService> {
  return {
    async listFailures(req, ctx) {
      const { failures, total } = await callbacks.listFailures(accountOf(ctx), req.pageSize, ctx.signal);
      return create(CallbackServiceListFailuresResponseSchema, {
        total: BigInt(total),
        failures: failures.map((f) =>
          create(CallbackFailureSchema, {
            roomSid: f.roomSid,
            sequence: BigInt(f.sequence),
            eventType: f.eventType,
            url: f.url,
            status: f.status,
            reason: f.reason,
            attempts: f.attempts,
            time: timestampFromMs(f.time),
          }),
        ),
      });
    },
  };
}
