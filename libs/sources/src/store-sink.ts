import type { ResourceStore } from '@tendril/store';
import type { ResourceSink, SourceError } from './resource-source';

/**
 * Connects sources to a ResourceStore: full batches become replaceAllFromSource, incremental
 * changes one store batch each; deletes only remove objects the source still owns. Errors go to
 * `onErrors` (the agent logs them and serves them to `tendril status`).
 */
export function storeSink(store: ResourceStore, onErrors: (sourceId: string, errors: readonly SourceError[]) => void = () => undefined): ResourceSink {
  return {
    replaceAll: (sourceId, objects) => store.replaceAllFromSource(sourceId, objects),
    applyChanges: (sourceId, { upserted, deleted }) =>
      store.batch(() => {
        for (const obj of upserted) store.upsert(obj, sourceId);
        for (const ref of deleted) store.delete(ref, sourceId);
      }),
    errors: onErrors,
  };
}
