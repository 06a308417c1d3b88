/** For `--dry-run`: records what would be written and writes nothing; the real backend still judges each service. */
import type { Service } from "../service/types.js";
import type { RegistryAdapter } from "./types.js";

export class RecordingAdapter implements RegistryAdapter {
  private readonly recorded = new Map<string, Service>();

  constructor(private readonly backend: RegistryAdapter) {}

  async ping(): Promise<void> {}

  async register(service: Service): Promise<void> {
    this.recorded.set(service.id, service);
  }

  async deregister(service: Service): Promise<void> {
    this.recorded.delete(service.id);
  }

  validate(service: Service): string | undefined {
    return this.backend.validate?.(service);
  }

  dropped(service: Service): string[] {
    return this.backend.dropped?.(service) ?? [];
  }

  /** What would be registered, sorted by id. */
  written(): Service[] {
    return [...this.recorded.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  close(): Promise<void> {
    return this.backend.close();
  }
}
