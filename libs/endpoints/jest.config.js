module.exports = {
  displayName: 'endpoints',
  preset: '../../jest.preset.js',
  rootDir: '.',
};
