// Names and small values that end up in paths, S3 keys, workflow ids and commands.
import { z } from 'zod';
import { CHECKPOINT_ID, CHECKPOINT_ID_RULE } from '../names';

/** Service names end up in paths, S3 keys and workflow ids, so they use a safe alphabet. */
export const ServiceName = z
  .string()
  .regex(
    /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/,
    'a service name is 1-40 characters of a-z, 0-9 and "-", starting and ending with a letter or digit',
  );

/** The one checkpoint-id pattern (common/names.ts), as a schema. */
export const CheckpointId = z.string().regex(CHECKPOINT_ID, `a checkpoint id ${CHECKPOINT_ID_RULE}`);

export const HostName = z
  .string()
  .regex(
    /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$/,
    'a host name is 1-32 characters of A-Z, a-z, 0-9 and "-", starting and ending with a letter or digit',
  );

export const ScheduleName = z
  .string()
  .regex(/^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/, 'a schedule name is 1-64 characters of a-z, 0-9 and "-"');

export const Port = z.number().int().min(1).max(65535);

export const Runtime = z.enum(['process', 'docker']);
export type Runtime = z.infer<typeof Runtime>;

/** A local image reference as Docker spells it (name[:tag] or an id); no registry is ever contacted. */
export const ImageRef = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._\/-]{0,127}(?::[A-Za-z0-9._-]{1,128})?$/, 'an image is name[:tag] of a-z, 0-9, ".", "_", "/", "-"');

/** Trees a service may not keep: the kernel's (/proc, /sys, /dev) and the system's own programs. */
const NOT_KEPT = ['/proc', '/sys', '/dev', '/boot', '/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];

/** A directory the service writes, carried with its images (`--keep`): absolute and normalised. */
export const KeptDir = z
  .string()
  .startsWith('/', 'a kept directory must be an absolute path (e.g. /srv/data)')
  .refine((p) => !p.includes('\0'), 'a path cannot contain a NUL byte')
  .refine((p) => p === '/' || (!p.endsWith('/') && !p.split('/').slice(1).some((s) => s === '' || s === '.' || s === '..')), 'a kept directory must be written plainly (no "//", ".", ".." or trailing "/")')
  .refine((p) => p !== '/' && !NOT_KEPT.some((d) => p === d || p.startsWith(`${d}/`)), `a kept directory must be one the service writes, not / nor inside ${NOT_KEPT.join(', ')}`);

/** A named volume of the container engine (`--volume name:/path`), as Docker spells its names. */
export const VolumeName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{1,127}$/, 'a volume name is 2-128 characters of A-Z, a-z, 0-9, "_", "." and "-", starting with a letter or digit');

/** Where a volume is mounted in the container: absolute, plain, not over what the engine or fastmig mount. */
const NOT_MOUNTED = ['/proc', '/sys', '/dev', '/fastmig', '/etc/hosts', '/etc/hostname', '/etc/resolv.conf'];
export const VolumePath = z
  .string()
  .startsWith('/', 'a volume path must be an absolute path in the container (e.g. /data)')
  .refine((p) => !p.includes('\0'), 'a path cannot contain a NUL byte')
  .refine((p) => p === '/' || (!p.endsWith('/') && !p.split('/').slice(1).some((s) => s === '' || s === '.' || s === '..')), 'a volume path must be written plainly (no "//", ".", ".." or trailing "/")')
  .refine((p) => !/[,:]/.test(p), 'a volume path cannot contain "," or ":"')
  .refine((p) => p !== '/' && !NOT_MOUNTED.some((d) => p === d || p.startsWith(`${d}/`)), `a volume path must not be / nor inside ${NOT_MOUNTED.join(', ')}`);

export const VolumeMount = z.object({ name: VolumeName, path: VolumePath }).strict();
export type VolumeMount = z.infer<typeof VolumeMount>;
