// Every server of the compatibility catalogue (docs/compatibility.md), one file each under servers/.
import type { CompatServer } from './entry';
import { redis } from './servers/redis';
import { nginx } from './servers/nginx';

export const CATALOGUE: CompatServer[] = [redis, nginx];
