import type { FieldError, KubeObject } from '@tendril/api-k8s';
import type { ResourceKey } from '@tendril/store';
import { parseAllDocuments } from 'yaml';
import { checkObject, type ObjectCheckOptions } from './check-object';
import type { SourceError } from './resource-source';

/** A valid object found in a file, with where it came from. */
export interface ParsedObject {
  key: ResourceKey;
  object: KubeObject;
  /** "HTTPRoute default/foo" */
  description: string;
  documentIndex: number;
  /** Position in the `items` of a List document. */
  itemIndex?: number;
}

/** A document (or List item) that failed, and what it claims to define when that is readable. */
export interface FailedDocument {
  documentIndex: number;
  itemIndex?: number;
  key?: ResourceKey;
}

export interface ParsedFile {
  objects: ParsedObject[];
  failures: FailedDocument[];
  errors: SourceError[];
  /**
   * The file has a syntax error. Syntax errors can swallow or split documents, so neither the
   * document positions nor the absence of an object can be trusted.
   */
  syntaxError: boolean;
}

/** Files the file source reads. */
export function isResourceFile(filePath: string): boolean {
  return /\.(ya?ml|json)$/i.test(filePath);
}

function isListDocument(value: unknown): value is { kind: string; items: unknown[] } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const { kind, items } = value as Record<string, unknown>;
  return typeof kind === 'string' && kind.endsWith('List') && Array.isArray(items);
}

function prefixed(prefix: string, path: string): string {
  return path ? `${prefix}.${path}` : prefix;
}

/** "Missing closing "quote at line 4, column 1:\n\n…" → "Missing closing "quote". */
function firstLine(message: string): string {
  return message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
}

/**
 * Parses one file's text into objects and per-document errors. Pure: the caller reads the file.
 * `file` is only used to label errors. Multi-document YAML, `kind: List` documents (any kind
 * ending in "List" with an `items` list) and JSON are accepted; empty documents are skipped.
 */
export function parseResourceFile(file: string, text: string, options: ObjectCheckOptions = {}): ParsedFile {
  const result: ParsedFile = { objects: [], failures: [], errors: [], syntaxError: false };

  const addFieldErrors = (documentIndex: number, errors: FieldError[], description?: string): void => {
    for (const e of errors) result.errors.push({ file, documentIndex, path: e.path, message: e.message, ...(description ? { object: description } : {}) });
  };

  const addObject = (documentIndex: number, raw: unknown, itemIndex?: number): void => {
    const checked = checkObject(raw, options);
    const item = itemIndex === undefined ? {} : { itemIndex };
    if (checked.ok) {
      result.objects.push({ key: checked.identity.key, object: checked.object, description: checked.identity.description, documentIndex, ...item });
      return;
    }
    const errors = itemIndex === undefined ? checked.errors : checked.errors.map((e) => ({ ...e, path: prefixed(`items[${itemIndex}]`, e.path) }));
    addFieldErrors(documentIndex, errors, checked.identity?.description);
    result.failures.push({ documentIndex, ...item, ...(checked.identity ? { key: checked.identity.key } : {}) });
  };

  const addDocument = (documentIndex: number, value: unknown): void => {
    if (value === null || value === undefined) return;
    if (isListDocument(value)) value.items.forEach((item, i) => addObject(documentIndex, item, i));
    else addObject(documentIndex, value);
  };

  if (/\.json$/i.test(file)) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      result.syntaxError = true;
      result.errors.push({ file, documentIndex: 1, path: '', message: `JSON syntax error: ${jsonMessage(err)}`, ...jsonPosition(err, text) });
      result.failures.push({ documentIndex: 1 });
      return result;
    }
    addDocument(1, value);
    return result;
  }

  parseAllDocuments(text).forEach((doc, i) => {
    const documentIndex = i + 1;
    if (doc.errors.length > 0) {
      result.syntaxError = true;
      const [first, ...more] = doc.errors;
      const position = first.linePos?.[0];
      const extra = more.length > 0 ? ` (and ${more.length} more error${more.length > 1 ? 's' : ''} in this document)` : '';
      let claimed: FailedDocument['key'];
      let description: string | undefined;
      try {
        // The partial parse often still names the object; that is how its last good version is found.
        const partial = checkObject(doc.toJS());
        claimed = partial.identity?.key;
        description = partial.identity?.description;
      } catch {
        // Nothing readable; the failure stays anonymous.
      }
      result.errors.push({
        file,
        documentIndex,
        path: '',
        message: `YAML syntax error: ${firstLine(first.message)}${extra}`,
        ...(description ? { object: description } : {}),
        ...(position ? { line: position.line, column: position.col } : {}),
      });
      result.failures.push({ documentIndex, ...(claimed ? { key: claimed } : {}) });
      return;
    }
    let value: unknown;
    try {
      value = doc.toJS();
    } catch (err) {
      // e.g. an alias to an undefined anchor, or more aliases than allowed (a "billion laughs" document).
      result.errors.push({ file, documentIndex, path: '', message: `YAML error: ${err instanceof Error ? err.message : String(err)}` });
      result.failures.push({ documentIndex });
      return;
    }
    addDocument(documentIndex, value);
  });
  return result;
}

function jsonMessage(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  // V8 appends either the offset or a copy of the (possibly huge) input; the position is reported separately.
  return message
    .replace(/ in JSON at position \d+.*$/s, '')
    .replace(/, ".*" is not valid JSON$/s, '')
    .replace(/ \(line \d+ column \d+\)$/, '');
}

function jsonPosition(err: unknown, text: string): { line?: number; column?: number } {
  const message = err instanceof Error ? err.message : '';
  const lineColumn = /line (\d+) column (\d+)/.exec(message);
  if (lineColumn) return { line: Number(lineColumn[1]), column: Number(lineColumn[2]) };
  const offset = /at position (\d+)/.exec(message);
  if (offset) {
    const before = text.slice(0, Number(offset[1]));
    const lines = before.split('\n');
    return { line: lines.length, column: lines[lines.length - 1].length + 1 };
  }
  if (/Unexpected end of JSON input/.test(message)) {
    const lines = text.split('\n');
    return { line: lines.length, column: lines[lines.length - 1].length + 1 };
  }
  return {};
}
