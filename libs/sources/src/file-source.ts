import type { KubeObject } from '@tendril/api-k8s';
import { deepEqual, parseKey, type ResourceKey } from '@tendril/store';
import { watch, type FSWatcher } from 'chokidar';
import { readFileSync, statSync, type Dirent, type Stats } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ObjectCheckOptions } from './check-object';
import { DocumentReuse, isResourceFile, parseResourceFile } from './parse-file';
import { ResourceFiles } from './resource-files';
import type { ResourceSink, ResourceSource, SourceError } from './resource-source';

export interface FileSourceOptions extends ObjectCheckOptions {
  /** The source id objects are stored under; default `file:<absolute directory>`. */
  id?: string;
  /** Quiet time after the last file event before the directory is re-read; default 50 ms. */
  debounceMs?: number;
  /** Longest a change waits while events keep arriving (e.g. a large copy); default 250 ms. */
  maxDelayMs?: number;
  /** Called for failures outside any file (the sink threw, the watcher broke); default: process.emitWarning. */
  onInternalError?: (error: Error) => void;
}

function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null ? (err as NodeJS.ErrnoException).code : undefined;
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** Editor swap files, .git and other dot-entries are never resources. */
function isHidden(name: string): boolean {
  return name.startsWith('.');
}

/**
 * Reads Kubernetes objects from a directory tree of *.yaml, *.yml and *.json files and keeps
 * reading them as they change, the way `tendril up` is configured.
 *
 * Watching uses chokidar 4 rather than Node 20's recursive fs.watch: measured on Linux with
 * Node 20.20, recursive fs.watch stops reporting files inside a directory after that directory
 * is renamed, while chokidar saw every event within ~15 ms (startup ~60 ms for 200 files).
 * `atomic: false` because chokidar's atomic-write detection delays deletions by 100 ms, and the
 * debounce here already absorbs editors' write-to-temp-then-rename.
 *
 * Events only mark paths dirty; after `debounceMs` of quiet (at most `maxDelayMs`) each dirty
 * path is stat'ed and re-read (a directory is walked), so no particular event order or
 * completeness is relied on. The sink gets one replaceAll on start, then one applyChanges per
 * batch that changed objects, and errors() whenever the list of problems changes.
 * See ResourceFiles for what happens to objects whose file turns invalid.
 *
 * Hidden files and directories (name starting with ".") are ignored; symbolic links to files are
 * read, symbolic links to directories are not followed (they could form cycles).
 */
export class FileSource implements ResourceSource {
  readonly id: string;
  readonly ready: Promise<void>;
  private readonly root: string;
  private readonly files: ResourceFiles;
  private readonly texts = new Map<string, string>();
  /** Per file, the documents of its last parse: an edit re-parses only the documents it touched. */
  private readonly documentReuse = new Map<string, DocumentReuse>();
  private readonly dirty = new Set<string>();
  private readonly debounceMs: number;
  private readonly maxDelayMs: number;
  private readonly onInternalError: (error: Error) => void;
  private settleReady!: { resolve: () => void; reject: (err: Error) => void };
  private sink: ResourceSink | undefined;
  private watcher: FSWatcher | undefined;
  private startTask: Promise<void> = Promise.resolve();
  private flushChain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private firstDirtyAt: number | undefined;
  private stopped = false;
  /** What the sink accepted last; undefined until the first delivery. */
  private emitted: Map<ResourceKey, KubeObject> | undefined;
  /** Keys whose object may differ from the emitted one: each delivery compares only these. */
  private readonly undelivered = new Set<ResourceKey>();
  private emittedErrors: SourceError[] | undefined;
  private watchErrors: SourceError[] = [];

  constructor(
    /** The directory, as given; errors name files relative to it ("examples/x.yaml"). */
    readonly dir: string,
    private readonly options: FileSourceOptions = {},
  ) {
    this.root = path.resolve(dir);
    this.id = options.id ?? `file:${this.root}`;
    this.debounceMs = options.debounceMs ?? 50;
    this.maxDelayMs = Math.max(options.maxDelayMs ?? 250, this.debounceMs);
    this.onInternalError = options.onInternalError ?? ((error) => process.emitWarning(error));
    this.files = new ResourceFiles((file) => path.join(dir, file));
    this.ready = new Promise<void>((resolve, reject) => (this.settleReady = { resolve, reject }));
    // `ready` may be ignored by callers who await start(); its rejection must not count as unhandled.
    this.ready.catch(() => undefined);
  }

  start(sink: ResourceSink): Promise<void> {
    if (this.sink) return Promise.reject(new Error(`file source ${this.id} was already started`));
    if (this.stopped) return Promise.reject(new Error(`file source ${this.id} was stopped`));
    this.sink = sink;
    this.startTask = this.run().then(
      () => this.settleReady.resolve(),
      (err) => this.settleReady.reject(asError(err)),
    );
    return this.ready;
  }

  async stop(): Promise<void> {
    if (!this.sink && !this.stopped) this.settleReady.reject(new Error(`file source ${this.id} was stopped before it was started`));
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.dirty.clear();
    await this.startTask;
    await this.watcher?.close();
    await this.flushChain;
  }

  private async run(): Promise<void> {
    let rootStats: Stats;
    try {
      rootStats = await stat(this.root);
    } catch (err) {
      if (errorCode(err) === 'ENOENT') throw new Error(`resource directory "${this.dir}" does not exist`);
      throw new Error(`cannot read resource directory "${this.dir}": ${asError(err).message}`);
    }
    if (!rootStats.isDirectory()) throw new Error(`"${this.dir}" is not a directory`);
    if (this.stopped) throw new Error(`file source ${this.id} was stopped before it was ready`);

    const watcher = watch(this.root, {
      ignoreInitial: true,
      atomic: false,
      followSymlinks: false,
      ignored: (p: string, stats?: Stats) => this.isIgnored(p, stats),
    });
    this.watcher = watcher;
    // Raw events (one per inotify event, naming what changed) start the debounce at once;
    // chokidar's own add/change/unlink events follow only after it has re-read the directory
    // (~7 ms for 100 files), so they add their path without pushing a pending flush back.
    watcher.on('raw', (_event: string, name: unknown, details: unknown) => this.onRawEvent(name, details));
    watcher.on('all', (_event: string, p: string) => this.markDirty(p, false));
    watcher.on('error', (err: unknown) => this.onWatchError(asError(err)));
    await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
    if (this.stopped) throw new Error(`file source ${this.id} was stopped before it was ready`);

    this.dirty.add(this.root);
    const initial = this.flushChain.then(() => this.flush());
    // A failed first delivery is reported through `ready`, not onInternalError.
    this.flushChain = initial.catch(() => undefined);
    await initial;
  }

  private isIgnored(p: string, stats?: Stats): boolean {
    const rel = path.relative(this.root, p);
    if (rel === '') return false;
    if (rel.split(path.sep).some(isHidden)) return true;
    return stats?.isFile() === true && !isResourceFile(p);
  }

  /** A directory watcher names the entry that changed; a file watcher names its own file. */
  private onRawEvent(name: unknown, details: unknown): void {
    const watched = (details as { watchedPath?: unknown } | undefined)?.watchedPath;
    if (typeof watched !== 'string') return;
    const changed = typeof name !== 'string' || name === '' || name === path.basename(watched) ? watched : path.join(watched, name);
    if (!this.isIgnored(changed)) this.markDirty(changed);
  }

  /** Marks a path for the next flush; `postpone` restarts the quiet period of a pending one. */
  private markDirty(p: string, postpone = true): void {
    if (this.stopped) return;
    this.dirty.add(p);
    if (this.timer && !postpone) return;
    const now = Date.now();
    this.firstDirtyAt ??= now;
    clearTimeout(this.timer);
    const delay = Math.max(0, Math.min(this.debounceMs, this.firstDirtyAt + this.maxDelayMs - now));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.firstDirtyAt = undefined;
      this.flushChain = this.flushChain.then(() => this.flush()).catch((err) => this.onInternalError(asError(err)));
    }, delay);
  }

  private onWatchError(error: Error): void {
    if (this.stopped) return;
    this.watchErrors = [{ file: this.dir, documentIndex: 0, path: '', message: `watching failed, changes may be missed: ${error.message}` }];
    // Re-read everything: whatever the watcher missed is picked up now.
    this.markDirty(this.root);
  }

  private relative(p: string): string {
    return path.relative(this.root, p).split(path.sep).join('/');
  }

  private async flush(): Promise<void> {
    const paths = [...this.dirty];
    this.dirty.clear();
    for (const p of paths) {
      if (this.stopped) return;
      await this.refresh(p);
    }
    if (this.stopped) return;
    const { objects, errors, changed } = this.files.resolve();
    for (const key of changed) this.undelivered.add(key);
    this.deliver(objects, [...this.watchErrors, ...errors]);
  }

  /**
   * Brings the state of one path (file or directory, present or gone) up to date. A changed file
   * is stat'ed and read synchronously: a few tens of microseconds, where the thread pool may first
   * be busy with chokidar's lstat of every entry of the directory (2–3 ms for 100 files).
   */
  private async refresh(absolute: string): Promise<void> {
    const rel = this.relative(absolute);
    let stats: Stats;
    try {
      stats = statSync(absolute);
    } catch (err) {
      const code = errorCode(err);
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        this.forget(rel);
        return;
      }
      if (this.files.has(rel)) this.markUnreadable(rel, err);
      return;
    }
    if (stats.isDirectory()) {
      const found = await this.walk(absolute);
      this.forget(rel, new Set(found));
      for (const file of found) await this.readResourceFile(file);
    } else if (stats.isFile() && isResourceFile(absolute) && !this.isIgnored(absolute)) {
      this.readResourceFileSync(rel);
    } else {
      this.forget(rel);
    }
  }

  private forget(rel: string, except?: ReadonlySet<string>): void {
    this.files.removeUnder(rel, except);
    for (const file of this.texts.keys()) {
      if (except?.has(file)) continue;
      if (rel === '' || file === rel || file.startsWith(`${rel}/`)) {
        this.texts.delete(file);
        this.documentReuse.delete(file);
      }
    }
  }

  /** Resource files below `absolute`, as paths relative to the root. */
  private async walk(absolute: string): Promise<string[]> {
    let entries: Dirent[];
    try {
      entries = await readdir(absolute, { withFileTypes: true });
    } catch {
      return []; // Vanished or unreadable meanwhile; its own events will follow.
    }
    const found: string[] = [];
    for (const entry of entries) {
      if (isHidden(entry.name)) continue;
      const child = path.join(absolute, entry.name);
      if (entry.isDirectory()) found.push(...(await this.walk(child)));
      else if (isResourceFile(entry.name) && (entry.isFile() || (entry.isSymbolicLink() && (await isFileTarget(child))))) found.push(this.relative(child));
    }
    return found;
  }

  private async readResourceFile(rel: string): Promise<void> {
    let text: string;
    try {
      text = await readFile(path.join(this.root, rel), 'utf8');
    } catch (err) {
      return this.readFailed(rel, err);
    }
    this.fileRead(rel, text);
  }

  private readResourceFileSync(rel: string): void {
    let text: string;
    try {
      text = readFileSync(path.join(this.root, rel), 'utf8');
    } catch (err) {
      return this.readFailed(rel, err);
    }
    this.fileRead(rel, text);
  }

  private readFailed(rel: string, err: unknown): void {
    const code = errorCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') this.forget(rel);
    else this.markUnreadable(rel, err);
  }

  private fileRead(rel: string, text: string): void {
    if (this.texts.get(rel) === text && this.files.has(rel)) return;
    this.texts.set(rel, text);
    let reuse = this.documentReuse.get(rel);
    if (!reuse) this.documentReuse.set(rel, (reuse = new DocumentReuse()));
    this.files.setParsed(rel, parseResourceFile(path.join(this.dir, rel), text, this.options, reuse));
  }

  private markUnreadable(rel: string, err: unknown): void {
    this.files.setUnreadable(rel, `cannot read file: ${asError(err).message}`);
    // Forget the text so the file is parsed again as soon as it can be read, even if unchanged.
    this.texts.delete(rel);
  }

  private deliver(objects: ReadonlyMap<ResourceKey, KubeObject>, errors: SourceError[]): void {
    const sink = this.sink;
    if (!sink || this.stopped) return;
    const emitted = this.emitted;
    if (!emitted) {
      sink.replaceAll(this.id, [...objects.values()]);
      this.emitted = new Map(objects);
    } else {
      const upserted: KubeObject[] = [];
      const deleted: ResourceKey[] = [];
      for (const key of this.undelivered) {
        const before = emitted.get(key);
        const after = objects.get(key);
        if (!after) {
          if (before) deleted.push(key);
        } else if (before !== after && !deepEqual(before, after)) {
          upserted.push(after);
        }
      }
      if (upserted.length > 0 || deleted.length > 0) sink.applyChanges(this.id, { upserted, deleted: deleted.map(parseKey) });
      // Only what the sink accepted counts as delivered; if it threw, the next flush compares these keys again.
      for (const key of this.undelivered) {
        const after = objects.get(key);
        if (after) emitted.set(key, after);
        else emitted.delete(key);
      }
    }
    this.undelivered.clear();
    if (!this.emittedErrors || !deepEqual(this.emittedErrors, errors)) {
      sink.errors(this.id, errors);
      this.emittedErrors = errors;
    }
  }
}

async function isFileTarget(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}
