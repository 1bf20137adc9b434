const presetModule = require('@nx/jest/preset');
const nxPreset = presetModule.default ?? presetModule.nxPreset;

module.exports = {
  ...nxPreset,
  testEnvironment: 'node',
  transform: {
    '^.+\\.[tj]s$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  moduleFileExtensions: ['ts', 'js', 'json'],
  testMatch: ['**/?(*.)+(spec|test).ts'],
  // In CI a leaked handle must not hang the run for its whole time budget: Jest still prints the
  // "did not exit" warning, and the run goes on.
  forceExit: process.env.CI === 'true',
};

// Each project's results land in TENDRIL_TEST_RESULTS so scripts/summarize-tests.js can add them up.
if (process.env.TENDRIL_TEST_RESULTS) {
  module.exports.reporters = ['default', [require('node:path').join(__dirname, 'scripts/jest-json-reporter.js'), {}]];
}
