#!/usr/bin/env node
// Runs the TypeScript sources directly (tsx), resolving @tendril/* through the workspace tsconfig,
// so `npx tendril` works from a clean clone right after `npm ci` with no build step.
const path = require('node:path');
process.env.TSX_TSCONFIG_PATH ??= path.join(__dirname, '..', '..', '..', 'tsconfig.json');
require('tsx/cjs');
require('../src/main.ts');
