import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Errors } from '../../errors.js';
import { errorAnswer } from '../error-answers.js';
import type { RouteHandler } from '../pipeline.js';
import { sendNow } from '../respond.js';

const ASSETS = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
} as const;

/**
 * GET <base>/docs and its assets: Swagger UI from the installed swagger-ui-dist package, read once at
 * start-up, so the page works with no CDN and no network.
 */
export function createDocsHandlers(basePath: string): {
  page: RouteHandler;
  asset: RouteHandler;
  /** <base>/docs/ -> <base>/docs, keeping the query: the page has one URL, as in FastAPI. */
  redirect: RouteHandler;
} {
  const dist = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
  const files = new Map(Object.entries(ASSETS).map(([name, type]) => [name, { type, bytes: readFileSync(join(dist, name)) }]));
  const page = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Sentiment inference - Swagger UI</title>
<link rel="stylesheet" href="${basePath}/docs/swagger-ui.css"><link rel="icon" href="${basePath}/docs/favicon-32x32.png"></head>
<body><div id="swagger-ui"></div><script src="${basePath}/docs/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({ url: '${basePath}/openapi.json', dom_id: '#swagger-ui' });</script></body></html>`;
  const notFound = errorAnswer(Errors.NotFound(), 'bulk-predict');
  return {
    page: (ctx) => sendNow(ctx, 200, 'text/html; charset=utf-8', page),
    redirect: (ctx, req) => {
      const query = req.getQuery();
      sendNow(ctx, 301, 'text/plain; charset=utf-8', '', [['location', `${basePath}/docs${query ? `?${query}` : ''}`]]);
    },
    asset: (ctx, req) => {
      const file = files.get(req.getUrl().slice(`${basePath}/docs/`.length));
      if (file) sendNow(ctx, 200, file.type, file.bytes, [['cache-control', 'public, max-age=86400']]);
      else sendNow(ctx, 404, 'application/json', notFound.body);
    },
  };
}
