module.exports = {
  displayName: 'xds',
  preset: '../../jest.preset.js',
  rootDir: '.',
};
