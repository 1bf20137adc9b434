module.exports = {
  displayName: 'api-k8s',
  preset: '../../jest.preset.js',
  rootDir: '.',
};
