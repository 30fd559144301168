// Names and small values that end up in paths, S3 keys, workflow ids and commands.
import { z } from 'zod';

/** Service names end up in paths, S3 keys and workflow ids, so they use a safe alphabet. */
export const ServiceName = z
  .string()
  .regex(
    /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/,
    'a service name is 1-40 characters of a-z, 0-9 and "-", starting and ending with a letter or digit',
  );

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
