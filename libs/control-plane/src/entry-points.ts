import * as path from 'node:path';

/** The repository root, found from this file's location (libs/control-plane/src). */
export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');

/**
 * The command that runs one of tendril's TypeScript entry points (apps/<app>/src/main.ts) as a
 * child process: node with tsx's loader and the workspace tsconfig, so no build step is needed.
 */
export function entryPointCommand(app: 'agent' | 'proxy' | 'cli'): { command: string; args: string[]; env: Record<string, string> } {
  return {
    command: process.execPath,
    args: ['--require', require.resolve('tsx/cjs'), path.join(REPO_ROOT, 'apps', app, 'src', 'main.ts')],
    env: { TSX_TSCONFIG_PATH: path.join(REPO_ROOT, 'tsconfig.json') },
  };
}
