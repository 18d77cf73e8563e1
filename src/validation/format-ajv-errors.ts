import type { ErrorObject } from 'ajv';

/** One line naming each failing field, for start-up errors (not the HTTP 422 shape). */
export function formatAjvErrors(errors: ErrorObject[] | null | undefined, nameOf: (field: string) => string = (f) => f): string {
  return (errors ?? [])
    .map((e) => {
      const field = e.instancePath.split('/').filter(Boolean).join('.') || String(e.params.additionalProperty ?? '');
      return `${nameOf(field)} ${e.message ?? 'is invalid'}`;
    })
    .join('; ');
}
