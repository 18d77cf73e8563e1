// Entry point: config -> logger -> model present? -> service (listening, health 503) -> warm -> ready.
// SIGTERM/SIGINT drain gracefully and exit 0.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig, type Config } from './config.js';
import { Errors } from './errors.js';
import { createLogger } from './observability/logger.js';
import { startService, type Service } from './service.js';
import { MODEL_FILE_CANDIDATES } from './model/model-info.js';

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    fail(pino(), err);
  }
  const logger = createLogger(config.logLevel);
  let service: Service;
  try {
    if (config.modelDirIsDefault && !existsSync(join(config.modelDir, config.modelFile ?? MODEL_FILE_CANDIDATES[0]))) {
      logger.info({ modelDir: config.modelDir }, 'no model yet and MODEL_DIR unset: fetching it from the hub');
      const { ensureModel } = await import('../model/fetch.js');
      const { createProgressReporter } = await import('../model/progress.js');
      await ensureModel(config.modelDir, { onProgress: createProgressReporter(process.stderr) }).catch((err: Error) => {
        throw Errors.ModelFetch(err.message);
      });
    }
    service = await startService(config, logger);
    await service.ready;
  } catch (err) {
    fail(logger, err);
  }

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutdown requested');
    service.shutdown().then(
      () => {
        logger.flush();
        process.exit(0);
      },
      (err: unknown) => fail(logger, err),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

/** One clear line, then a non-zero exit: start-up errors name what is wrong and how to fix it. */
function fail(logger: pino.Logger, err: unknown): never {
  const code = (err as { code?: string }).code;
  logger.fatal({ code, err }, err instanceof Error ? err.message : String(err));
  logger.flush();
  process.exit(1);
}

await main();
