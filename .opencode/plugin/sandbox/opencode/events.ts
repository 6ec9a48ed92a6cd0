/** OpenCode's events, as the service's calls. */
import type { Hooks } from "@opencode-ai/plugin";
import type { ProjectService } from "../service/project.js";

/** OpenCode's event union, as the plugin API hands it over. */
export type Event = Parameters<NonNullable<Hooks["event"]>>[0]["event"];

export type SessionEvents = Pick<ProjectService, "noteSession" | "idle" | "busy" | "active" | "deleted">;

export function onEvent(service: SessionEvents, event: Event): Promise<void> | void {
  switch (event.type) {
    case "session.created":
    case "session.updated":
      return service.noteSession(event.properties.info);
    case "session.deleted":
      return service.deleted(event.properties.info.id);
    case "session.idle":
      return service.idle(event.properties.sessionID);
    case "session.status":
      if (event.properties.status.type === "idle") return service.idle(event.properties.sessionID);
      return service.busy(event.properties.sessionID);
    case "message.updated":
      return service.active(event.properties.info.sessionID);
    case "message.part.updated":
      return service.active(event.properties.part.sessionID);
    case "message.removed":
    case "message.part.removed":
      return service.active(event.properties.sessionID);
  }
}
