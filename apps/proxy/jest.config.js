module.exports = {
  displayName: 'app-proxy',
  preset: '../../jest.preset.js',
  rootDir: '.',
};
