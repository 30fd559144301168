// The state of a service's entity workflow (entity.ts wires its handlers and waits): the queue of
// migration requests, run one at a time, the placement it last read and the recent history.
import { condition, patched, workflowInfo } from '@temporalio/workflow';
import { z } from 'zod';
import { HostName, LAZY_CHOICE_ISSUE, LazyFailure, lazyChoiceFits, MigrateInput, MigrationMode, MigrationReport, Placement } from '../common/schemas';
import { runMigration } from './run-migration';
import { messageOf, validate } from './errors';
import { periodicCheckpoint } from './periodic-checkpoint';
import { registry } from './proxies';

/** The patch that lets an entity end when its service does not exist (workflow versioning). */
const ORPHANED_ENTITY_ENDS = 'orphaned-entity-ends';

export const MigrateRequest = z
  .object({ to: HostName, mode: MigrationMode.default('warm'), onLazyFailure: LazyFailure.optional() })
  .strict()
  .refine(lazyChoiceFits, LAZY_CHOICE_ISSUE);
export type MigrateRequest = z.input<typeof MigrateRequest>;

/** The entity's input, and what it continues as new with. */
export interface EntityState {
  service: string;
  host?: string | null;
  generation?: number | null;
  history?: MigrationReport[];
}

const HISTORY_KEPT = 50;

export class ServiceEntity {
  readonly history: MigrationReport[];
  private host: string | null;
  private generation: number | null;
  private placement: Placement | null = null;
  private readonly queue: { id: number; input: MigrateInput }[] = [];
  private readonly done = new Map<number, MigrationReport>();
  private running: string | null = null;
  private lastPeriodic: string | null = null;
  private next = 0;
  private isRetired = false;
  /** The registry answered that the service does not exist (never deployed, or removed). */
  private absent = false;
  /** Signals that could not be queued (malformed): a signal cannot answer, so they are counted here. */
  private droppedSignals = 0;
  private lastDroppedSignal: string | null = null;

  constructor(
    readonly service: string,
    raw: EntityState,
  ) {
    this.history = raw.history ?? [];
    this.host = raw.host ?? null;
    this.generation = raw.generation ?? null;
  }

  /** Queues a migration; returns its id in the queue. */
  request(req: MigrateRequest): number {
    const r = validate(MigrateRequest, req, 'migrate request');
    const id = this.next++;
    this.queue.push({ id, input: { service: this.service, to: r.to, mode: r.mode, ...(r.onLazyFailure ? { onLazyFailure: r.onLazyFailure } : {}) } });
    return id;
  }

  /** Queues a migration and waits for its report. */
  async migrate(req: MigrateRequest): Promise<MigrationReport> {
    const id = this.request(req);
    await condition(() => this.done.has(id));
    const report = this.done.get(id)!;
    this.done.delete(id);
    return report;
  }

  /** The service was removed: the entity finishes its queue and ends. */
  retire(): void {
    this.isRetired = true;
  }

  get retired(): boolean {
    return this.isRetired;
  }

  /** Nothing to serve: no such service and nothing queued (a request for an unknown name), so the entity ends. */
  get orphaned(): boolean {
    return this.absent && !this.queue.length;
  }

  placementView() {
    return { service: this.service, host: this.host, generation: this.generation };
  }

  pending() {
    return { running: this.running, queued: this.queue.length, lastPeriodicCheckpoint: this.lastPeriodic, droppedSignals: this.droppedSignals, lastDroppedSignal: this.lastDroppedSignal };
  }

  /** A migrate signal that was refused: counted and its reason kept, for the pending query. */
  dropSignal(reason: string): void {
    this.droppedSignals++;
    this.lastDroppedSignal = reason;
  }

  /** Reads the placement again: other paths (evacuation, schedules, direct starts) move services too. */
  async refresh(): Promise<void> {
    await this.reread();
    this.host = this.placement?.host ?? null;
    this.generation = this.placement?.generation ?? null;
  }

  private async reread(): Promise<void> {
    // The registry lives in S3: while S3 is away the entity keeps what it knew and tries again later.
    try {
      this.placement = await registry.getPlacement(this.service);
      // Entities started before they could end this way replay as they ran (waiting for work).
      this.absent = !this.placement && patched(ORPHANED_ENTITY_ENDS);
    } catch {
      /* keeps the placement it knew */
    }
  }

  /** Waits for work: a queued migration, the end (retired, history grown), or the checkpoint period. */
  async nextWork(): Promise<'migrate' | 'checkpoint' | 'end'> {
    const every = this.placement?.spec.checkpoint?.everySeconds;
    const wake = () => this.queue.length > 0 || this.isRetired || this.orphaned || workflowInfo().continueAsNewSuggested;
    const woken = every ? await condition(wake, every * 1000) : (await condition(wake), true);
    if (!woken && this.placement && !this.isRetired) return 'checkpoint';
    return this.queue.length ? 'migrate' : 'end';
  }

  /** A periodic checkpoint; a failure (service down, moved meanwhile) waits for the next period. */
  async checkpoint(): Promise<void> {
    this.lastPeriodic = await periodicCheckpoint(this.placement!).catch((err) => `failed: ${messageOf(err)}`);
    await this.reread();
  }

  /** Runs the oldest queued migration and answers whoever waits for it. */
  async migrateNext(): Promise<void> {
    const { id, input } = this.queue.shift()!;
    this.running = `${input.to} (${input.mode})`;
    const report = await runMigration(input);
    this.running = null;
    await this.refresh();
    this.history.push(report);
    if (this.history.length > HISTORY_KEPT) this.history.splice(0, this.history.length - HISTORY_KEPT);
    this.done.set(id, report);
  }

  /** Temporal suggests a fresh history and nothing waits in the queue. */
  shouldContinueAsNew(): boolean {
    return workflowInfo().continueAsNewSuggested && !this.queue.length;
  }

  state(): EntityState {
    return { service: this.service, host: this.host, generation: this.generation, history: this.history };
  }
}
