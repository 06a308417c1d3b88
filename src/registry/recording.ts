/** For `--dry-run`: records what would be written and writes nothing; the real backend still judges each service. */
import { byCodeUnits } from "../service/record.js";
import type { Service } from "../service/types.js";
import type { Capabilities, RegistryAdapter, Stored } from "./types.js";

export class RecordingAdapter implements RegistryAdapter {
  private readonly recorded = new Map<string, Service>();
  /** The backend's rules only: nothing is written, so nothing is renewed or mirrored. */
  readonly capabilities: Capabilities;

  constructor(private readonly backend: RegistryAdapter) {
    const rules = backend.capabilities?.rules;
    this.capabilities = rules ? { rules } : {};
  }

  async ping(): Promise<void> {}

  async register(service: Service): Promise<void> {
    this.recorded.set(service.id, service);
  }

  async deregister(service: Service): Promise<void> {
    this.recorded.delete(service.id);
  }

  /** What the real backend holds: reading writes nothing, and -cleanup then shows what it would remove. */
  services(): Promise<Stored[]> {
    return this.backend.services();
  }

  /** What would be registered, sorted by id. */
  written(): Service[] {
    return [...this.recorded.values()].sort((a, b) => byCodeUnits(a.id, b.id));
  }

  close(): Promise<void> {
    return this.backend.close();
  }
}
