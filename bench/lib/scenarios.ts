// The four autocannon scenarios of issue 7. Every body goes out without a Content-Type header, as the
// reference's grader sends it.
import { FIXED, POOL, mixedBody, shuffled } from '../k6/sentences.js';

export type ScenarioName = 'cached' | 'mixed' | 'uncached' | 'large';
export const SCENARIO_NAMES: readonly ScenarioName[] = ['cached', 'mixed', 'uncached', 'large'];

export interface LoadSettings {
  connections: number;
  pipelining: number;
}

export interface Scenario extends LoadSettings {
  name: ScenarioName;
  /** One line for tables and the chart. */
  description: string;
  textsPerRequest: string;
  /** A new request body on every call (the texts differ per call in every scenario but `cached`). */
  nextBody(): string;
}

export interface ScenarioInputs {
  quick: boolean;
  /** Real sentences; the cached half of `large` comes from here. */
  sentences: readonly string[];
  /** Seeded, so that the order of bodies can be replayed. */
  random: () => number;
  /** A text never sent before on each call (the uncached texts and the new half of `large`). */
  unique: () => string;
}

const LARGE_TEXTS = 100;

// Connections: 10 is the reference grader's VU count; cached gets more because a cache hit is cheap, so
// 10 connections would leave both servers idle between requests. No pipelining: HTTP clients of an
// inference API do not pipeline.
const FULL: Record<ScenarioName, LoadSettings> = {
  cached: { connections: 50, pipelining: 1 },
  mixed: { connections: 10, pipelining: 1 },
  uncached: { connections: 10, pipelining: 1 },
  large: { connections: 4, pipelining: 1 },
};
const QUICK: Record<ScenarioName, LoadSettings> = {
  cached: { connections: 10, pipelining: 1 },
  mixed: { connections: 4, pipelining: 1 },
  uncached: { connections: 4, pipelining: 1 },
  large: { connections: 2, pipelining: 1 },
};

/** Builds the scenarios, in the order they run. */
export function buildScenarios(inputs: ScenarioInputs): Scenario[] {
  const settings = inputs.quick ? QUICK : FULL;
  const cachedBody = JSON.stringify({ text: FIXED });
  const largeCachedHalf = inputs.sentences.slice(0, LARGE_TEXTS / 2);
  return [
    {
      name: 'cached',
      description: `the same ${FIXED.length}-sentence body on every request`,
      textsPerRequest: String(FIXED.length),
      ...settings.cached,
      nextBody: () => cachedBody,
    },
    {
      name: 'mixed',
      description: `95% the ${FIXED.length}-sentence body, 5% the ${POOL.length}-sentence pool in a random order`,
      textsPerRequest: `${FIXED.length} or ${POOL.length}`,
      ...settings.mixed,
      nextBody: () => mixedBody(inputs.random),
    },
    {
      name: 'uncached',
      description: `${FIXED.length} texts never seen before per request (model-bound)`,
      textsPerRequest: String(FIXED.length),
      ...settings.uncached,
      nextBody: () => JSON.stringify({ text: Array.from({ length: FIXED.length }, inputs.unique) }),
    },
    {
      name: 'large',
      description: `${LARGE_TEXTS} texts per request: the same ${LARGE_TEXTS / 2} plus ${LARGE_TEXTS / 2} new ones, shuffled`,
      textsPerRequest: String(LARGE_TEXTS),
      ...settings.large,
      nextBody: () => {
        const fresh = Array.from({ length: LARGE_TEXTS / 2 }, inputs.unique);
        return JSON.stringify({ text: shuffled([...largeCachedHalf, ...fresh], inputs.random) });
      },
    },
  ];
}
