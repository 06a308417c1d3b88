/**
 * Where each container stands, and how an event moves it: the reconciler's state machine. Pure.
 *
 *   unread   --read-->                                   running | stopped | removed
 *   any      --started, changed, died without a code-->  unread
 *   any      --died with its exit code-->                stopped
 *   any      --resync-->                                 unread, but a running one the list shows unchanged
 *                                                        (and without a health check) stays running
 *   any      --destroyed-->                              removed, which nothing leaves
 *
 * resync and lost also ask for every desired service to be written again.
 */
import type { DockerHealth } from "../registry/types.js";

export type Lifecycle =
  /** To be read from the engine before anything is written: new, or an event said it changed. */
  | { is: "unread"; view?: string }
  /** As the engine showed it at the last read; `view` is how the last list showed it. */
  | { is: "running"; view?: string; health?: DockerHealth; swarmService?: string }
  /** The engine said it stopped, with its exit code when it gave one: nothing to ask the engine. */
  | { is: "stopped"; exitCode?: number }
  /** The engine no longer has it. */
  | { is: "removed" };

/** What happened to one container, as the bridge reads the engine's events and its own passes. */
export type ContainerEvent =
  | { kind: "started" }
  /** Its health changed, its swarm service changed, or a sync pass listed it: read it again. */
  | { kind: "changed"; view?: string }
  | { kind: "died"; exitCode?: number }
  | { kind: "destroyed" }
  /** A -resync pass listed it: write everything again, and read it again unless the list shows no change. */
  | { kind: "resync"; view?: string }
  /** The registry may have lost what it held: write everything again. */
  | { kind: "lost" };

export interface Next {
  lifecycle: Lifecycle;
  /** Write every desired service again, not only what changed. */
  rewrite: boolean;
}

/** How `event` moves a container in `lifecycle`. */
export function afterEvent(lifecycle: Lifecycle, event: ContainerEvent): Next {
  if (lifecycle.is === "removed") return { lifecycle, rewrite: false };
  switch (event.kind) {
    case "started":
      return { lifecycle: { is: "unread" }, rewrite: false };
    case "changed":
      return { lifecycle: { is: "unread", view: event.view }, rewrite: false };
    case "died":
      // Without its exit code the engine is asked how it ended.
      return { lifecycle: event.exitCode === undefined ? { is: "unread" } : { is: "stopped", exitCode: event.exitCode }, rewrite: false };
    case "destroyed":
      return { lifecycle: { is: "removed" }, rewrite: false };
    case "resync":
      return { lifecycle: unchangedSince(lifecycle, event.view) ? lifecycle : { is: "unread", view: event.view }, rewrite: true };
    case "lost":
      return { lifecycle, rewrite: true };
  }
}

/**
 * The list shows a running container as at its last read: as the Go registrator does, a -resync pass
 * writes it again without asking the engine. Podman's list does not show health, so a container with
 * a health check is always read again.
 */
function unchangedSince(lifecycle: Lifecycle, view: string | undefined): boolean {
  return lifecycle.is === "running" && lifecycle.health === undefined && view !== undefined && lifecycle.view === view;
}

/** The events that may concern a container this process does not know yet. */
export function mayBeNew(event: ContainerEvent): boolean {
  return event.kind === "started" || event.kind === "changed" || event.kind === "resync";
}

/** The engine's event for a container, by its action, as the bridge reads it. */
export function fromEngine(action: string, exitCode: number | undefined): ContainerEvent {
  switch (action) {
    case "start":
      return { kind: "started" };
    case "die":
    case "died":
      return { kind: "died", exitCode };
    case "destroy":
    case "remove":
      return { kind: "destroyed" };
    default:
      // health_status, and whatever else the engine reports: the container is read again.
      return { kind: "changed" };
  }
}
