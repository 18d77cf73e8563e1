// Entry point: config -> logger -> signal handlers -> model present? -> service (listening, health 503) -> warm
// -> ready. SIGTERM/SIGINT at any point after the config is read end the process cleanly with exit 0.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { type Config, loadConfig } from './config.js';
import { Errors } from './errors.js';
import { createLogger } from './observability/logger.js';
import { type Service, startService } from './service.js';
import { MODEL_FILE_CANDIDATES } from './model-loading/model-info.js';

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    fail(pino(), err);
  }
  const logger = createLogger(config.logLevel);

  // Installed before the model fetch and the warm-up, which may take minutes: a stop then must not kill the
  // process mid-write, and an orchestrator expects exit 0 for a stop it asked for.
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stop.signal.aborted) return;
    logger.info({ signal }, 'shutdown requested');
    stop.abort(signal);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  let service: Service;
  try {
    if (
      config.modelRepository === undefined &&
      config.modelDirIsDefault &&
      !existsSync(join(config.modelDir, config.modelFile ?? MODEL_FILE_CANDIDATES[0]))
    ) {
      logger.info({ modelDir: config.modelDir }, 'no model yet and MODEL_DIR unset: fetching it from the hub');
      const { ensureModel } = await import('../model/manifest-fetch.js');
      const { createProgressReporter } = await import('../model/progress.js');
      const onProgress = createProgressReporter(process.stderr);
      await ensureModel(config.modelDir, { onProgress, signal: stop.signal }).catch((err: Error) => {
        if (!stop.signal.aborted) throw Errors.ModelFetch(err.message);
      });
      // A partial download stays as .part; the next start resumes it.
      if (stop.signal.aborted) exit(logger, 'stopped during the model fetch');
    }
    service = await startService(config, logger);
    // A stop during warm-up drains at once (health 503, socket closed); the pool closes after the warm-up.
    const drain = (): void => {
      service.shutdown().then(
        () => exit(logger),
        (err: unknown) => fail(logger, err),
      );
    };
    if (stop.signal.aborted) drain();
    else stop.signal.addEventListener('abort', drain, { once: true });
    await service.ready;
  } catch (err) {
    fail(logger, err);
  }
}

function exit(logger: pino.Logger, message?: string): never {
  if (message !== undefined) logger.info(message);
  logger.flush();
  process.exit(0);
}

/** One clear line, then a non-zero exit: start-up errors name what is wrong and how to fix it. */
function fail(logger: pino.Logger, err: unknown): never {
  const code = (err as { code?: string }).code;
  logger.fatal({ code, err }, err instanceof Error ? err.message : String(err));
  logger.flush();
  process.exit(1);
}

await main();
