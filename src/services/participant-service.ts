import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  ParticipantService,
  ParticipantServiceGetResponseSchema,
  ParticipantServiceJoinResponseSchema,
  ParticipantServiceLeaveResponseSchema,
  ParticipantServiceListResponseSchema,
  ParticipantServiceUpdateResponseSchema,
} from "../../gen/rollcall/v1/participant_pb.js";
import type { ParticipantOperations } from "../operations/participants.js";
import { accountOf } from "./account.js";
import { msOf, participantMessage, participantStatusOf } from "./messages.js";
import { stopAfterPage } from "./streams.js";

export function participantService(participants: ParticipantOperations, draining: AbortSignal): ServiceImpl<typeof ParticipantService> {
  return {
    async join(req, ctx) {
      const { participant, displaced } = await participants.join(accountOf(ctx), req.room, req.identity, ctx.signal);
      return create(ParticipantServiceJoinResponseSchema, {
        participant: participantMessage(participant),
        displaced: displaced && participantMessage(displaced),
      });
    },

    async get(req, ctx) {
      const participant = await participants.get(accountOf(ctx), req.room, req.participant, ctx.signal);
      return create(ParticipantServiceGetResponseSchema, { participant: participantMessage(participant) });
    },

    async update(req, ctx) {
      const participant = await participants.update(accountOf(ctx), req.room, req.participant, participantStatusOf(req.status), ctx.signal);
      return create(ParticipantServiceUpdateResponseSchema, { participant: participantMessage(participant) });
    },

    async leave(req, ctx) {
      const participant = await participants.leave(accountOf(ctx), req.room, req.participant, ctx.signal);
      return create(ParticipantServiceLeaveResponseSchema, { participant: participantMessage(participant) });
    },

    async *list(req, ctx) {
      const pages = participants.pages(
        accountOf(ctx),
        {
          room: req.room,
          status: participantStatusOf(req.status),
          identity: req.identity,
          dateCreatedAfter: msOf(req.dateCreatedAfter, "date_created_after"),
          dateCreatedBefore: msOf(req.dateCreatedBefore, "date_created_before"),
          // Zero is protobuf for "not set".
          pageSize: req.pageSize || undefined,
          pageToken: req.pageToken,
        },
        ctx.signal,
      );
      for await (const page of pages) {
        yield create(ParticipantServiceListResponseSchema, {
          participants: page.participants.map(participantMessage),
          nextPageToken: page.nextPageToken,
          watchCursor: page.watchCursor,
        });
        stopAfterPage(ctx.signal, draining, page.nextPageToken);
      }
    },
  };
}
