import type { ServedModel } from './served-model.js';

/**
 * `build` of each served model, built the first time a request asks for it and kept as long as the model is
 * served (a reloaded model is a new ServedModel, so it gets its own): what a route answers of a model (its
 * info, its metadata) costs no work per request.
 */
export function perModel<T>(build: (model: ServedModel) => T): (model: ServedModel) => T {
  const built = new WeakMap<ServedModel, T>();
  return (model) => {
    let value = built.get(model);
    if (value === undefined) {
      value = build(model);
      built.set(model, value);
    }
    return value;
  };
}
