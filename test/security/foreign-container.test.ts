// Ownership on the container engine: a container fastmig did not create (no fastmig labels) is
// never removed or replaced, even when its name collides with a service's container.
import execa from 'execa';
import { paths } from '../../common/config';
import { ops } from '../../client';
import { DEMO_IMAGES, ensureDemoImages } from '../../demo/images';
import { tryBadInput } from './attempts';

const SERVICE = 'foreign-box';
const NAME = `fastmig-hostA-${SERVICE}`;
const docker = (...args: string[]) => execa('docker', ['-H', `unix://${paths.dockerSocket('hostA')}`, ...args], { reject: false });

beforeAll(async () => {
  await ensureDemoImages();
  await docker('rm', '-f', NAME);
  const created = await docker('create', '--name', NAME, DEMO_IMAGES.musl.name);
  expect(created.exitCode).toBe(0);
});
afterAll(async () => {
  await docker('rm', '-f', NAME);
});

test('deploying a service whose container name is taken by a foreign container is refused; the container stays', async () => {
  expect(await tryBadInput('agent: replace a foreign container', async () => {
    try {
      await ops.deploy({ host: 'hostA', spec: { name: SERVICE, runtime: 'docker', image: DEMO_IMAGES.musl.name, port: 8080 } });
      return false;
    } catch (err) {
      const still = await docker('container', 'inspect', '--format', '{{.Name}}', NAME);
      return /not created by fastmig/.test((err as Error).message) && still.exitCode === 0;
    }
  }, {
    // The deployment is the attack's path; the agent refuses it and nothing of it remains.
    workflows: new RegExp(`^deploy-${SERVICE}$`),
    aimedAt: [paths.serviceDir('hostA', SERVICE)],
    check: async () => ((await ops.inspect()).some((v) => v.service === SERVICE) ? `${SERVICE} was registered` : null),
  })).toBe(true);
  expect((await ops.inspect()).map((v) => v.service)).not.toContain(SERVICE);
});
