// A service's own address on the hosts' network, carried by the host the service runs on: the
// daemon puts it on the host's interface before the service starts or is restored, and takes it
// off once the service has left (a dump that ended it, a fence, a shutdown). With the address come
// the service's established TCP connections: CRIU restores them only with the same addresses on
// both ends (TCP repair), so a restore keeps them open (--tcp-established) instead of closing them.
import type { LineLogger as Logger } from '../common/log-lite';
import { run } from './run';
import { deleteRule, listedRules } from './iptables';

export interface AddressPlace {
  address: string;
  /** The interface that carries it: the host's, or a container's own link (activities/container-link.ts). */
  dev: string;
  /** A container's own link: taken up with the address and down without it (its host answers for the address only while it is up). */
  ownLink?: boolean;
  /** A source whose traffic passes the hold (the container's host probing it). */
  exempt?: string;
}

export class ServiceAddress {
  readonly address: string;
  private readonly dev: string;

  /** `PATH`: where ip, iptables, sysctl and arping are (in a container, the bundle's). */
  constructor(
    private readonly place: AddressPlace,
    private readonly log: Logger,
    private readonly PATH: string,
  ) {
    this.address = place.address;
    this.dev = place.dev;
  }

  private async sh(cmd: string, args: string[]): Promise<{ ok: boolean; err: string }> {
    const r = await run(cmd, args, { timeoutMs: 10_000, env: { PATH: this.PATH } });
    return { ok: r.exitCode === 0, err: (r.stderr || r.stdout).trim().split('\n')[0] };
  }

  /**
   * Puts the address on this host, then forgets the host's neighbours: the restored connections'
   * first packets ask for their peers from the service's address, which makes every peer that still
   * holds the old host's hardware address for it take the new one. Without this an established
   * connection stalled for about a minute (the peer's stale entry stays confirmed by TCP).
   */
  async claim(): Promise<void> {
    if (this.place.ownLink) await this.linkUp();
    else await this.allowForeignBinds();
    const add = await this.sh('ip', ['addr', 'add', `${this.address}/32`, 'dev', this.dev]);
    if (!add.ok && !/File exists|already assigned/.test(add.err)) throw new Error(`cannot put the service address ${this.address} on ${this.dev}: ${add.err}`);
    await this.sh('ip', ['neigh', 'flush', 'dev', this.dev]);
    this.log.debug({ address: this.address, at: Date.now() }, 'service address claimed');
  }

  /** A container's link comes from its host once the container runs: waited for, then taken up, with the way out. */
  private async linkUp(): Promise<void> {
    const deadline = Date.now() + 15_000;
    while (!(await this.sh('ip', ['link', 'show', this.dev])).ok) {
      if (Date.now() > deadline) throw new Error(`no link ${this.dev} for the service address ${this.address}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const args of [['link', 'set', this.dev, 'up'], ['route', 'replace', 'default', 'dev', this.dev]]) {
      const r = await this.sh('ip', args);
      if (!r.ok) throw new Error(`cannot take ${this.dev} up for ${this.address}: ip ${args.join(' ')}: ${r.err}`);
    }
  }

  /**
   * CRIU binds each restored connection to its old local address. A connection the service had on
   * its own address restores as it was; one on the old host's address (an outgoing connection, or
   * a client that used the host's address) cannot exist here, and without this its bind would fail
   * the whole restore. With non-local binds allowed it restores, and its peer, whose packets now
   * reach the old host, sees it reset: what a restore with the connections closed would have done.
   */
  private async allowForeignBinds(): Promise<void> {
    const r = await this.sh('sysctl', ['-qw', 'net.ipv4.ip_nonlocal_bind=1']);
    if (!r.ok) this.log.warn({ err: r.err }, 'non-local binds not allowed: a connection on the old host address would fail the restore');
  }

  /**
   * Tells the segment the address is here now (a gratuitous ARP, when arping is installed): peers
   * with no connection open learn it at once rather than after their neighbour entry goes stale.
   * Not awaited by anyone: the service answers already.
   */
  announce(): void {
    if (this.place.ownLink) return; // it would reach its host only: the host announces it (activities/container-link.ts)
    void this.sh('arping', ['-U', '-c', '2', '-w', '2', '-I', this.dev, this.address]).then((r) => {
      if (!r.ok) this.log.debug({ address: this.address, err: r.err }, 'gratuitous ARP not sent');
    });
  }

  /**
   * Traffic to the address is dropped (not refused) while held: before a dump that ends the
   * service here, from the freeze until the address lives on the target (a SYN queued on the frozen
   * listener would be reset when the tree ends), and on a restore until the tree runs, or, for a
   * migration's target, until the migration cuts over. Clients send again (a SYN after 1 s, then
   * 3 s; data after TCP's retransmission timeout) instead of seeing a reset.
   */
  async hold(): Promise<void> {
    if ((await this.sh('iptables', ['-w', '-C', 'INPUT', ...this.inbound])).ok) return; // held already
    const r = await this.sh('iptables', ['-w', '-I', 'INPUT', ...this.inbound]);
    if (!r.ok) throw new Error(`cannot hold the traffic to ${this.address}: ${r.err}`);
    this.log.debug({ address: this.address, at: Date.now() }, 'traffic to the service address held');
  }

  /** Traffic is taken again (the dump failed and the service runs on here, or it is restored here and may serve). */
  async unhold(): Promise<void> {
    for (let i = 0; i < 10 && (await this.sh('iptables', ['-w', '-D', 'INPUT', ...this.inbound])).ok; i++);
    this.log.debug({ address: this.address, at: Date.now() }, 'traffic to the service address taken again');
  }

  private get inbound(): string[] {
    return ['-d', `${this.address}/32`, ...(this.place.exempt ? ['!', '-s', `${this.place.exempt}/32`] : []), '-j', 'DROP'];
  }

  /**
   * Takes the address off this host, and CRIU's network-lock rules for its connections with it:
   * after a dump that ended the tree those rules stay (so that the host sends no reset for the
   * dumped connections), and left behind they would drop the same connections should the
   * service come back here. The hold on new connections goes with them.
   */
  async release(): Promise<void> {
    const del = await this.sh('ip', ['addr', 'del', `${this.address}/32`, 'dev', this.dev]);
    if (!del.ok && !/Cannot assign|not found/i.test(del.err)) this.log.warn({ address: this.address, err: del.err }, 'service address not removed');
    if (this.place.ownLink) await this.sh('ip', ['link', 'set', this.dev, 'down']);
    this.log.debug({ address: this.address, at: Date.now() }, 'service address released');
    const mine = await listedRules((rule) => rule.includes(`${this.address}/32`) && rule.includes('-j DROP'), this.PATH);
    for (const rule of mine) await deleteRule(rule, this.PATH);
  }
}
