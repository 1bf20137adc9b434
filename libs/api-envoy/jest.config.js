module.exports = {
  displayName: 'api-envoy',
  preset: '../../jest.preset.js',
  rootDir: '.',
};
