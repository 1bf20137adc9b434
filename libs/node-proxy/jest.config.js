module.exports = {
  displayName: 'node-proxy',
  preset: '../../jest.preset.js',
  rootDir: '.',
};
