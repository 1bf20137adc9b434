module.exports = {
  displayName: 'workloads',
  preset: '../../jest.preset.js',
  rootDir: '.',
};
