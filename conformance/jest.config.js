module.exports = {
  displayName: 'conformance',
  preset: '../jest.preset.js',
  rootDir: '.',
  // Test files share the pod and Gateway address ranges (127.12.x, 127.20.x): one at a time.
  maxWorkers: 1,
};
