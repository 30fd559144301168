// The target step that a migration and a failover share: a new instance of a service on a host,
// prepared (its daemon in standby, or started from scratch), then filled from a checkpoint image
// and checked to answer (one activity on that host), or removed again.
import { sleep } from '@temporalio/workflow';
import type { Placement, ServiceSpec } from '../common/schemas';
import type { FetchAndRestoreResult } from '../activities/transfer';
import { hostSteps, registry } from './proxies';
import { proxiedOf } from '../common/names';

export class Target {
  private readonly steps: ReturnType<typeof hostSteps>;
  private removal?: Promise<boolean>;
  /** The port it answers on at its host's address once prepared (a container publishes its own). */
  port: number | undefined;
  /** The host's own address, known once prepared: where clients reach this instance. */
  address: string | undefined;
  /** The port the registry records once prepared: a container's published port; none for a process. */
  hostPort: number | undefined;

  constructor(
    readonly host: string,
    private readonly spec: ServiceSpec,
    readonly generation: number,
    /** The service's own address, which comes along to this host (absent: it has none). */
    private readonly serviceAddress?: string,
    /** A migration's target: its address takes no traffic until open() (failover opens at once). */
    private readonly heldUntilOpen = false,
  ) {
    this.steps = hostSteps(host);
    this.port = spec.port;
  }

  private get held(): boolean {
    return this.heldUntilOpen && !!this.serviceAddress;
  }

  private get proxied(): boolean {
    return proxiedOf({ spec: this.spec, serviceAddress: this.serviceAddress });
  }

  /**
   * The service's record naming this instance (a failover writes it before the instance exists:
   * fencing); `migratedFrom` only when a migration moves it from its source copy.
   */
  placed(p: Placement, migratedFrom?: Placement['migratedFrom']): Placement {
    return { ...p, host: this.host, generation: this.generation, hostPort: this.hostPort, address: this.address, updatedAt: new Date().toISOString(), migratedFrom };
  }

  /** start: the command from scratch; otherwise the daemon waits in standby for an image. */
  async prepare(start: boolean, preferredHostPort: number | undefined): Promise<void> {
    const prepared = await this.steps.prepareService({ spec: this.spec, generation: this.generation, start, preferredHostPort, serviceAddress: this.serviceAddress });
    this.port = prepared.hostPort ?? this.spec.port;
    this.hostPort = this.proxied ? this.port : undefined;
    this.address = prepared.address;
  }

  /**
   * Gets the image (from the host that took it, or from S3), restores it and waits until the
   * service answers. waitForCheckpoint: asked before the dump ended; the source answers once it has.
   */
  arrive(checkpointId: string, from: string, via: 'peer' | 's3', waitForCheckpoint?: true): Promise<FetchAndRestoreResult> {
    const req = { service: this.spec.name, generation: this.generation, checkpointId, from, encrypt: this.spec.encryptImages, proxied: this.proxied, runtime: this.spec.runtime };
    return this.steps.fetchAndRestore({ ...req, port: this.port, via, serviceAddress: this.serviceAddress, held: this.held, ...(waitForCheckpoint ? { waitForCheckpoint } : {}) });
  }

  /** The cut-over happened: a held restore takes traffic at the service's address now (true: it was held). */
  async open(): Promise<boolean> {
    if (!this.held) return false;
    await this.steps.openService({ service: this.spec.name, generation: this.generation });
    return true;
  }

  /** A lazy restore: waits until the last memory page is on this host (it fails, and the instance ends, if they cannot all come). */
  pagesAcross(): Promise<{ acrossAt: number }> {
    return this.steps.awaitPages({ service: this.spec.name, generation: this.generation });
  }

  /** A service started from scratch answers. */
  verify(): Promise<{ healthyAt: number }> {
    return this.steps.healthCheck({ port: this.port, proxied: this.proxied, serviceAddress: this.serviceAddress });
  }

  /** Removes the instance, once however often asked; false when its agent did not answer. */
  remove(): Promise<boolean> {
    this.removal ??= this.steps.removeService({ service: this.spec.name, generation: this.generation }).then(
      () => true,
      () => false,
    );
    return this.removal;
  }

  /** Surely gone: removed, or, when its agent does not answer, fenced once its lease has lapsed. */
  async gone(): Promise<void> {
    if (!(await this.remove())) await sleep((await registry.fencingSeconds()) * 1000);
  }
}
