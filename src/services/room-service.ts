import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  RoomService,
  RoomServiceCreateResponseSchema,
  RoomServiceGetResponseSchema,
  RoomServiceListResponseSchema,
  RoomServiceUpdateResponseSchema,
} from "../../gen/rollcall/v1/room_pb.js";
import type { RoomOperations } from "../operations/rooms.js";
import { accountOf } from "./account.js";
import { msOf, roomMessage, roomStatusOf } from "./messages.js";

export function roomService(rooms: RoomOperations): ServiceImpl<typeof RoomService> {
  return {
    async create(req, ctx) {
      const room = await rooms.create(
        accountOf(ctx),
        {
          uniqueName: req.uniqueName,
          type: req.type,
          maxParticipants: req.maxParticipants,
          maxParticipantDuration: req.maxParticipantDuration,
          emptyRoomTimeout: req.emptyRoomTimeout,
          unusedRoomTimeout: req.unusedRoomTimeout,
          statusCallback: req.statusCallback,
          statusCallbackMethod: req.statusCallbackMethod,
        },
        ctx.signal,
      );
      return create(RoomServiceCreateResponseSchema, { room: roomMessage(room) });
    },

    async get(req, ctx) {
      return create(RoomServiceGetResponseSchema, { room: roomMessage(await rooms.get(accountOf(ctx), req.room, ctx.signal)) });
    },

    async list(req, ctx) {
      const page = await rooms.list(
        accountOf(ctx),
        {
          status: roomStatusOf(req.status),
          uniqueName: req.uniqueName,
          dateCreatedAfter: msOf(req.dateCreatedAfter, "date_created_after"),
          dateCreatedBefore: msOf(req.dateCreatedBefore, "date_created_before"),
          // Zero is protobuf for "not set".
          pageSize: req.pageSize || undefined,
          pageToken: req.pageToken,
        },
        ctx.signal,
      );
      return create(RoomServiceListResponseSchema, { rooms: page.rooms.map(roomMessage), nextPageToken: page.nextPageToken });
    },

    async update(req, ctx) {
      const room = await rooms.update(accountOf(ctx), req.room, roomStatusOf(req.status), ctx.signal);
      return create(RoomServiceUpdateResponseSchema, { room: roomMessage(room) });
    },
  };
}
