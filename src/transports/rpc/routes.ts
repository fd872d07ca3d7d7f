import type { ConnectRouter } from "@connectrpc/connect";
import { ParticipantService } from "../../../gen/rollcall/v1/participant_pb.js";
import { RoomService } from "../../../gen/rollcall/v1/room_pb.js";
import type { ParticipantOperations } from "../../operations/participants.js";
import type { RoomOperations } from "../../operations/rooms.js";
import { participantService } from "./participant-service.js";
import { roomService } from "./room-service.js";

export function rpcRoutes(participants: ParticipantOperations, rooms: RoomOperations, draining: AbortSignal) {
  return (router: ConnectRouter) => {
    router.service(ParticipantService, participantService(participants, draining));
    router.service(RoomService, roomService(rooms));
  };
}
