// The HTTP API's server on fastify: every route but the open ones needs the bearer token, bodies
// are bounded JSON, and every error is a JSON {error} with a 4xx status (a refused operation: 409).
import crypto from 'crypto';
import Fastify, { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../common/log';

export const MAX_BODY = 16 * 1024;

/** An error with the status to answer it with. */
export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export const badRequest = (_what: string, problem: string) => new ApiError(400, problem);

export interface AppOptions {
  token: string;
  log: Logger;
  /** Routes ("METHOD /path") answered without a token. */
  open: string[];
  /** Called once per answer: the route ("METHOD /pattern", or "unknown" when none ran) and the status. */
  onAnswer: (route: string, status: number) => void;
}

const routeOf = (req: FastifyRequest) => `${req.method} ${req.routeOptions.url}`;

export function createApp(o: AppOptions): FastifyInstance {
  const app = Fastify({
    bodyLimit: MAX_BODY,
    exposeHeadRoutes: false,
    // A path fastify cannot decode gets the same JSON {error} as every other refusal.
    frameworkErrors: (err, _req, reply) => void (reply as FastifyReply).code(400).send({ error: err.message }),
  });
  const expected = digest(o.token);
  const reached = new WeakSet<FastifyRequest>();

  // Any content type is read as JSON, and an empty body is {} (as a form without fields).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
    if (body === '') return done(null, {});
    try {
      done(null, JSON.parse(body as string));
    } catch {
      done(new ApiError(400, 'request body is not valid JSON'), undefined);
    }
  });
  app.addHook('onRequest', async (req) => {
    if (req.is404 || !o.open.includes(routeOf(req))) {
      const given = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      if (!given || !crypto.timingSafeEqual(digest(given), expected)) throw new ApiError(401, 'missing or wrong token');
    }
  });
  app.addHook('preHandler', async (req) => void reached.add(req));
  app.addHook('onResponse', async (req, reply) => o.onAnswer(reached.has(req) && !req.is404 ? routeOf(req) : 'unknown', reply.statusCode));
  app.setNotFoundHandler(async (req) => {
    throw new ApiError(404, `no route ${req.method} ${req.url.split('?')[0]}`);
  });
  app.setErrorHandler(async (err: FastifyError | ApiError, req, reply) => {
    const status = err instanceof ApiError ? err.status : fastifyStatus(err) ?? 409;
    if (status >= 500 || status === 409) o.log.warn({ url: req.url, err: err.message }, 'request failed');
    return reply.code(status).send({ error: status === 413 ? `request body over ${MAX_BODY} bytes` : err.message });
  });
  return app;
}

/** Digests have one length, so comparing them takes the same time whatever the token given. */
function digest(s: string): Buffer {
  return crypto.createHash('sha256').update(s).digest();
}

/** fastify's own refusals (body too large, bad URL, …) keep their 4xx status. */
function fastifyStatus(err: FastifyError | ApiError): number | undefined {
  const status = (err as FastifyError).statusCode;
  return (err as FastifyError).code?.startsWith('FST_') && status && status >= 400 && status < 500 ? status : undefined;
}
