/** Which container of this process claims each service id: one id is never registered for two containers. */
import type { Service } from "../service/types.js";
import { isDefaultOwner, type Claim } from "./desired.js";

/** What a claim is weighed by, of the container that makes it. */
export interface Claimer {
  startedAt: string;
  desired: ReadonlyMap<string, Service>;
  registered: ReadonlyMap<string, Service>;
}

export class Claims {
  private readonly holders = new Map<string, string>();

  constructor(
    private readonly hostId: string,
    private readonly find: (containerId: string) => Claimer | undefined,
  ) {}

  holder(serviceId: string): string | undefined {
    return this.holders.get(serviceId);
  }

  claim(serviceId: string, containerId: string): void {
    this.holders.set(serviceId, containerId);
  }

  /** Lets go of the id when `containerId` holds it; true when it did. */
  release(serviceId: string, containerId: string): boolean {
    if (this.holders.get(serviceId) !== containerId) return false;
    return this.holders.delete(serviceId);
  }

  /** The claim on an id, as acceptServices weighs it. */
  of(serviceId: string): Claim | undefined {
    const container = this.holders.get(serviceId);
    const holder = container === undefined ? undefined : this.find(container);
    const service = holder && (holder.desired.get(serviceId) ?? holder.registered.get(serviceId));
    if (container === undefined || !holder || !service) return undefined;
    return {
      container,
      startedAt: holder.startedAt,
      registered: holder.registered.has(serviceId),
      defaultOwner: isDefaultOwner(this.hostId, service),
    };
  }
}
