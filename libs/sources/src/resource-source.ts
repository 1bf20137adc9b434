import type { KubeObject } from '@tendril/api-k8s';
import type { ObjectRef } from '@tendril/store';

/**
 * One problem with the input of a source, precise enough to fix it without guessing: which file,
 * which document in it, which field.
 */
export interface SourceError {
  /** The file, as the source's directory argument joined with the file's path inside it. */
  file: string;
  /** 1-based position of the document in the file (counting empty ones); 0 when the error concerns the whole file. */
  documentIndex: number;
  /** Dotted field path ("spec.rules[0].matches[0].path.value", "items[2].metadata.name"); "" for the whole document. */
  path: string;
  message: string;
  /** The object the document defines, when it says: "HTTPRoute default/foo". */
  object?: string;
  /** 1-based position of a YAML or JSON syntax error. */
  line?: number;
  column?: number;
}

/** The changes since the previous delivery: objects created or modified, and objects gone. */
export interface SourceChanges {
  upserted: readonly KubeObject[];
  deleted: readonly ObjectRef[];
}

/**
 * Where a source delivers what it reads. The store adapter (storeSink) is the usual sink; tests
 * record calls.
 */
export interface ResourceSink {
  /** The complete set of objects the source currently provides; everything else it provided before is gone. */
  replaceAll(sourceId: string, objects: readonly KubeObject[]): void;
  /** Incremental changes; one call is one atomic batch. */
  applyChanges(sourceId: string, changes: SourceChanges): void;
  /** The complete list of current input errors (an empty list means all is well); replaces the previous list. */
  errors(sourceId: string, errors: readonly SourceError[]): void;
}

/**
 * A provider of Kubernetes objects: a directory of files now, Kubernetes informers later. A source
 * first delivers a full batch (replaceAll), then incremental changes, until stopped.
 */
export interface ResourceSource {
  /** Identifies the source's objects in the store ("file:/etc/tendril/resources"). */
  readonly id: string;
  /**
   * Resolves once the first full batch has reached the sink; rejects if the source cannot start
   * (e.g. its directory does not exist).
   */
  readonly ready: Promise<void>;
  /** Starts delivering to `sink`; returns `ready`. A source starts once. */
  start(sink: ResourceSink): Promise<void>;
  /** Stops watching and releases every handle; nothing reaches the sink after the returned promise resolves. */
  stop(): Promise<void>;
}

/**
 * The one-line form of a SourceError:
 * `examples/x.yaml: document 2 (HTTPRoute default/foo): spec.rules[0].matches[0].path.value: must start with "/"`.
 */
export function formatSourceError(error: SourceError): string {
  const parts: string[] = [error.file];
  if (error.documentIndex > 0) parts.push(`document ${error.documentIndex}${error.object ? ` (${error.object})` : ''}`);
  if (error.line !== undefined) parts.push(error.column !== undefined ? `line ${error.line}, column ${error.column}` : `line ${error.line}`);
  if (error.path) parts.push(error.path);
  parts.push(error.message);
  return parts.join(': ');
}
