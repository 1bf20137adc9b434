import type { KubeObject } from '@tendril/api-k8s';
import type { ResourceKey } from '@tendril/store';
import type { ParsedFile, ParsedObject } from './parse-file';
import type { SourceError } from './resource-source';

/** An object a file currently provides. */
interface Contribution extends ParsedObject {
  /** Kept from an earlier version of the file because the document that defined it is now invalid. */
  retained: boolean;
}

interface FileState {
  contributions: Contribution[];
  /** Per object key, the file's first contribution for it (later ones in the same file are duplicates). */
  firstByKey: Map<ResourceKey, Contribution>;
  errors: SourceError[];
}

function fileState(contributions: Contribution[], errors: SourceError[]): FileState {
  const firstByKey = new Map<ResourceKey, Contribution>();
  for (const c of contributions) if (!firstByKey.has(c.key)) firstByKey.set(c.key, c);
  return { contributions, firstByKey, errors };
}

/** The definition of an object that wins: the first in path order, then document order. */
interface Winner {
  file: string;
  contribution: Contribution;
}

export interface ResolvedResources {
  /**
   * The winning definition of every object. A live view: it is the same map after every resolve(),
   * updated in place, so read it before the next change.
   */
  objects: ReadonlyMap<ResourceKey, KubeObject>;
  /** File errors and duplicate definitions, ordered by file path and document. */
  errors: SourceError[];
  /** The keys whose entry in `objects` may differ from what the previous resolve() returned (every key, the first time). */
  changed: ReadonlySet<ResourceKey>;
}

/** Code-unit order: the same on every machine and locale, so "first file wins" is deterministic. */
function byPath(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * What every file in a directory contributes, and the rules that turn it into one set of objects.
 * Pure; FileSource feeds it files as it reads them.
 *
 * Last-good semantics, as for `kubectl apply` of an invalid object (rejected; the old object stays):
 * - a document that fails validation keeps the last valid version of the object it names;
 * - a document too broken to name its object keeps whatever its position (document, List item)
 *   in the file last defined;
 * - while a file has a syntax error, none of its objects is removed, because a syntax error can
 *   swallow or split documents and make a document look deleted;
 * - an unreadable file keeps all its objects; a deleted file, a removed document or an emptied
 *   document (in a file that parses) removes its objects.
 * Two definitions of one object: the first in path order (then document order) wins, and the
 * other is reported as an error naming both files.
 */
export class ResourceFiles {
  private readonly files = new Map<string, FileState>();
  /** Per object key, the files that define it. */
  private readonly definers = new Map<ResourceKey, Set<string>>();
  private readonly winners = new Map<ResourceKey, Winner>();
  private readonly objects = new Map<ResourceKey, KubeObject>();
  /** Per file, its errors including the duplicates it defines, as of the last resolve(). */
  private readonly errorsByFile = new Map<string, SourceError[]>();
  private sortedFiles: string[] | undefined;
  /** What changed since the last resolve(): object keys to decide again, files to report again. */
  private readonly dirtyKeys = new Set<ResourceKey>();
  private readonly dirtyFiles = new Set<string>();

  /** @param display turns a file's key (its path relative to the directory) into the path shown in errors. */
  constructor(private readonly display: (file: string) => string) {}

  has(file: string): boolean {
    return this.files.has(file);
  }

  setParsed(file: string, parsed: ParsedFile): void {
    const previous = this.files.get(file)?.contributions ?? [];
    const contributions: Contribution[] = parsed.objects.map((o) => ({ ...o, retained: false }));
    const defined = new Set(contributions.map((c) => c.key));
    const keep = (c: Contribution): void => {
      if (defined.has(c.key)) return;
      defined.add(c.key);
      contributions.push({ ...c, retained: true });
    };
    if (parsed.syntaxError) {
      previous.forEach(keep);
    } else {
      for (const failure of parsed.failures) {
        const matches = failure.key
          ? (c: Contribution) => c.key === failure.key
          : (c: Contribution) => c.documentIndex === failure.documentIndex && (failure.itemIndex === undefined || c.itemIndex === failure.itemIndex);
        previous.filter(matches).forEach(keep);
      }
    }
    this.replaceFile(file, fileState(contributions, parsed.errors));
  }

  /** The file exists but cannot be read: keep everything it provided, report why. */
  setUnreadable(file: string, message: string): void {
    const previous = this.files.get(file)?.contributions ?? [];
    this.replaceFile(
      file,
      fileState(
        previous.map((c) => ({ ...c, retained: true })),
        [{ file: this.display(file), documentIndex: 0, path: '', message }],
      ),
    );
  }

  remove(file: string): void {
    this.replaceFile(file, undefined);
  }

  /** Removes `dir` itself if it was a file, and every file below it ("" is the whole directory). */
  removeUnder(dir: string, except: ReadonlySet<string> = new Set()): void {
    for (const file of [...this.files.keys()]) {
      if (except.has(file)) continue;
      if (dir === '' || file === dir || file.startsWith(`${dir}/`)) this.replaceFile(file, undefined);
    }
  }

  /**
   * The objects and errors of all files. Work is proportional to what changed since the last call:
   * the objects the changed files define (or defined), and the errors of the files that define them.
   */
  resolve(): ResolvedResources {
    const changed = new Set<ResourceKey>();
    for (const key of this.dirtyKeys) {
      const winner = this.winnerOf(key);
      const before = this.winners.get(key);
      if (before?.file !== winner?.file || before?.contribution !== winner?.contribution) {
        // Duplicate errors name the winning definition: every file defining the key reports again.
        for (const file of this.definers.get(key) ?? []) this.dirtyFiles.add(file);
      }
      if (winner) {
        this.winners.set(key, winner);
        if (this.objects.get(key) !== winner.contribution.object) changed.add(key);
        this.objects.set(key, winner.contribution.object);
      } else {
        this.winners.delete(key);
        if (this.objects.delete(key)) changed.add(key);
      }
    }
    this.dirtyKeys.clear();
    for (const file of this.dirtyFiles) {
      const state = this.files.get(file);
      if (state) this.errorsByFile.set(file, this.errorsOf(file, state));
      else this.errorsByFile.delete(file);
    }
    this.dirtyFiles.clear();
    this.sortedFiles ??= [...this.files.keys()].sort(byPath);
    const errors = this.sortedFiles.flatMap((file) => this.errorsByFile.get(file) ?? []);
    return { objects: this.objects, errors, changed };
  }

  private replaceFile(file: string, next: FileState | undefined): void {
    const before = this.files.get(file);
    for (const key of before?.firstByKey.keys() ?? []) {
      this.dirtyKeys.add(key);
      const files = this.definers.get(key);
      files?.delete(file);
      if (files?.size === 0) this.definers.delete(key);
    }
    if (next) {
      this.files.set(file, next);
      for (const key of next.firstByKey.keys()) {
        this.dirtyKeys.add(key);
        let files = this.definers.get(key);
        if (!files) this.definers.set(key, (files = new Set()));
        files.add(file);
      }
    } else {
      this.files.delete(file);
    }
    if (!before !== !next) this.sortedFiles = undefined;
    this.dirtyFiles.add(file);
  }

  /** The first definition of `key` in path order, then document order. */
  private winnerOf(key: ResourceKey): Winner | undefined {
    let first: string | undefined;
    for (const file of this.definers.get(key) ?? []) if (first === undefined || byPath(file, first) < 0) first = file;
    const contribution = first === undefined ? undefined : this.files.get(first)?.firstByKey.get(key);
    return first === undefined || !contribution ? undefined : { file: first, contribution };
  }

  /** A file's own errors and one per definition of it that another one wins, by document. */
  private errorsOf(file: string, state: FileState): SourceError[] {
    const errors = [...state.errors];
    for (const c of state.contributions) {
      const winner = this.winners.get(c.key);
      if (!winner || winner.contribution === c) continue;
      errors.push({
        file: this.display(file),
        documentIndex: c.documentIndex,
        path: '',
        object: c.description,
        message: `duplicate definition: ${c.description} is already defined in ${this.display(winner.file)} (document ${winner.contribution.documentIndex}); this one is ignored`,
      });
    }
    return errors.sort((a, b) => a.documentIndex - b.documentIndex);
  }
}
